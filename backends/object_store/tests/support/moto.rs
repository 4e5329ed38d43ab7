//! An S3-compatible server of the tests' own (moto, from PyPI), started on a free port and
//! stopped by pid, with savers on it. The object-store benchmark includes this file too.
//!
//! moto 5.2 honours `If-None-Match: *` on PutObject (412 when the key exists), the one condition
//! the saver sends, and also on CompleteMultipartUpload, and `If-Match` on PutObject, which the
//! saver does not use. It checks the condition and then writes without a lock, so the check is
//! atomic only while the server handles one request at a time: the tests run it
//! single-threaded, which is the semantics they rely on and test (`tests/s3.rs`).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use stategraph_object_store::ObjectStoreSaver;
use stategraph_object_store::object_store::aws::{AmazonS3, AmazonS3Builder, S3ConditionalPut};
use stategraph_object_store::object_store::{ClientOptions, RetryConfig};

/// The bucket every test uses on its own server.
pub const BUCKET: &str = "stategraph-tests";

/// How moto is started: its WSGI app on werkzeug, one request at a time.
const LAUNCH: &str = "import sys
from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
run_simple('127.0.0.1', int(sys.argv[1]), DomainDispatcherApplication(create_backend_app), threaded=False)";

/// A running moto server, stopped (by pid) when dropped.
pub struct Moto {
    child: Child,
    port: u16,
}

impl Moto {
    /// Starts moto with bucket [`BUCKET`]. When moto is not installed: panics if
    /// `STATEGRAPH_REQUIRE_SERVICES` is set (CI), otherwise prints why `test` is skipped and
    /// returns `None`.
    pub fn start_or_skip(test: &str) -> Option<Moto> {
        let installed = Command::new("python3")
            .args(["-c", "import moto.moto_server.werkzeug_app"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !installed {
            let why = "moto is not installed (pip install \"moto[server]==5.2.1\")";
            if std::env::var_os("STATEGRAPH_REQUIRE_SERVICES").is_some() {
                panic!("{test}: {why} and STATEGRAPH_REQUIRE_SERVICES is set");
            }
            eprintln!(
                "SKIPPED {test}: {why}; set STATEGRAPH_REQUIRE_SERVICES to make this a failure"
            );
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new("python3")
            .args(["-c", LAUNCH, &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 starts moto");
        let moto = Moto { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto did not listen within 30 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        moto.request("PUT", &format!("/{BUCKET}"));
        Some(moto)
    }

    /// The server's address.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Sends an unsigned request with no body (moto does not check signatures) and returns the
    /// status line.
    pub fn request(&self, method: &str, path: &str) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("moto answers");
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        )
        .expect("request sent");
        let mut reply = String::new();
        stream.read_to_string(&mut reply).expect("reply read");
        reply.lines().next().unwrap_or_default().to_owned()
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// An S3 client for the bucket, with conditional puts as configured.
    pub fn s3(&self, conditional: S3ConditionalPut) -> AmazonS3 {
        self.builder(conditional).build().expect("an S3 client")
    }

    /// An S3 client for the bucket that gives up on a request after `timeout`, without
    /// retrying.
    pub fn s3_with_timeout(&self, timeout: Duration) -> AmazonS3 {
        self.builder(S3ConditionalPut::ETagMatch)
            .with_client_options(
                ClientOptions::new()
                    .with_allow_http(true)
                    .with_timeout(timeout),
            )
            .with_retry(RetryConfig {
                max_retries: 0,
                retry_timeout: timeout,
                ..RetryConfig::default()
            })
            .build()
            .expect("an S3 client")
    }

    fn builder(&self, conditional: S3ConditionalPut) -> AmazonS3Builder {
        builder_at(&self.endpoint(), conditional)
    }

    /// A saver on the bucket under `prefix`, set up.
    pub async fn saver(&self, prefix: &str) -> ObjectStoreSaver {
        use stategraph_runtime::Checkpointer;
        let saver = saver_at(&self.endpoint(), prefix);
        saver.setup().await.expect("setup on moto");
        saver
    }
}

/// A client for [`BUCKET`] on the moto server at `endpoint` (from another process too).
pub fn builder_at(endpoint: &str, conditional: S3ConditionalPut) -> AmazonS3Builder {
    AmazonS3Builder::new()
        .with_endpoint(endpoint)
        .with_allow_http(true)
        .with_bucket_name(BUCKET)
        .with_region("us-east-1")
        .with_access_key_id("test")
        .with_secret_access_key("test")
        .with_conditional_put(conditional)
}

/// A saver under `prefix` on the moto server at `endpoint`, not yet set up.
pub fn saver_at(endpoint: &str, prefix: &str) -> ObjectStoreSaver {
    let store = builder_at(endpoint, S3ConditionalPut::ETagMatch)
        .build()
        .expect("an S3 client");
    ObjectStoreSaver::new(Arc::new(store)).with_prefix(prefix)
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
