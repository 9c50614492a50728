//! A database of its own per test on the server at `BATON_TEST_POSTGRES_URL`.

pub use baton_store_postgres::testkit::*;
