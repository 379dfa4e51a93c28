pub mod fixtures;
pub mod moto;
