pub mod fault_proxy;
pub mod fixtures;
pub mod moto;
