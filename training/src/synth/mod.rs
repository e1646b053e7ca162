//! The synthetic try-on world (DESIGN.md section 6): procedural people and garments with exact
//! parsing, dense pose and the true result of every garment transfer.

pub mod body;
pub mod canvas;
pub mod garment;
pub mod geometry;
pub mod person;
pub mod world;
pub mod writer;

pub use canvas::Drawing;
pub use world::{Person, Sample, Scene, Sequence, World, WorldError};
