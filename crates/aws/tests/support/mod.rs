pub mod fault_proxy;
pub mod fixtures;
pub use sessiontrail_test_support::moto;
