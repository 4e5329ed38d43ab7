//! The checkpointer conformance kit, each case against a fresh database file.

mod support;

use support::TempSaver;

stategraph_runtime::checkpointer_conformance!(async { TempSaver::new().await });
