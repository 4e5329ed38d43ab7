//! The connection pool (deadpool-postgres) and how connections are checked out.
//!
//! Statements go through `query_typed` (the extended protocol with the *unnamed* statement:
//! Parse, Bind, Execute and Sync in one round trip) or `batch_execute` (the simple protocol),
//! never through named prepared statements, and the pool's statement cache is never used. So
//! nothing outlives a transaction on the server, and the saver works behind pgbouncer in
//! transaction pooling mode.

use std::sync::Arc;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use stategraph_checkpoint::CheckpointError;

use crate::config::PostgresSaverBuilder;
use crate::error::Context;

/// A pool of connections to one server.
#[derive(Clone)]
pub(crate) struct Connections {
    pool: Pool,
    pub(crate) server: Arc<str>,
}

impl Connections {
    pub(crate) fn open(builder: &PostgresSaverBuilder) -> Result<Self, CheckpointError> {
        let (config, server) = builder.parse()?;
        let manager = Manager::from_config(
            config,
            tls::connector(builder.verify_certificates),
            ManagerConfig {
                // A pooled connection whose socket has closed (server restart, idle timeout)
                // is dropped on checkout and replaced by a new one.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(builder.pool_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(builder.wait_timeout))
            .create_timeout(Some(builder.connect_timeout))
            .recycle_timeout(Some(builder.connect_timeout))
            .build()
            .map_err(|e| Context::new("connect", None, &server).other(e.to_string()))?;
        Ok(Self { pool, server })
    }

    /// A connection, for `operation` on `thread_id`.
    pub(crate) async fn get(&self, context: Context<'_>) -> Result<Object, CheckpointError> {
        self.pool.get().await.map_err(|e| context.pool(e))
    }

    /// The pool's size and how many connections are open.
    pub(crate) fn status(&self) -> deadpool_postgres::Status {
        self.pool.status()
    }
}

#[cfg(not(feature = "tls"))]
mod tls {
    /// Without the `tls` feature, plain TCP (or a Unix socket); `sslmode=require` fails.
    pub(super) fn connector(_verify: bool) -> tokio_postgres::NoTls {
        tokio_postgres::NoTls
    }
}

#[cfg(feature = "tls")]
mod tls {
    use std::sync::Arc;

    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{DigitallySignedStruct, SignatureScheme};

    /// With the `tls` feature: rustls (ring). TLS is used as the connection string's `sslmode`
    /// says (`prefer`, the default, or `require`; `disable` for none). As with libpq's
    /// `prefer` and `require`, the channel is encrypted but the certificate is not checked
    /// against a CA unless `verify` is set (then: the platform's roots and the host name,
    /// libpq's `verify-full`).
    pub(super) fn connector(verify: bool) -> tokio_postgres_rustls::MakeRustlsConnect {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .expect("rustls supports its default protocol versions");
        let config = if verify {
            let mut roots = rustls::RootCertStore::empty();
            let found = rustls_native_certs::load_native_certs();
            for error in &found.errors {
                tracing::warn!(%error, "cannot load a platform root certificate");
            }
            roots.add_parsable_certificates(found.certs);
            builder.with_root_certificates(roots).with_no_client_auth()
        } else {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(EncryptOnly(provider)))
                .with_no_client_auth()
        };
        tokio_postgres_rustls::MakeRustlsConnect::new(config)
    }

    /// Accepts the server's certificate without checking who issued it (libpq's `require`),
    /// but still checks the handshake signatures made with it.
    #[derive(Debug)]
    struct EncryptOnly(Arc<CryptoProvider>);

    impl ServerCertVerifier for EncryptOnly {
        fn verify_server_cert(
            &self,
            _end_entity: &CertificateDer<'_>,
            _intermediates: &[CertificateDer<'_>],
            _server_name: &ServerName<'_>,
            _ocsp_response: &[u8],
            _now: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls12_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls13_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }
}
