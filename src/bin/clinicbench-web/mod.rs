//! The page's UI, one module per section (see [`app`] for the layout and the state they share).

pub mod app;
mod benchmark;
mod checkpoint;
mod compare;
mod files;
mod model;
mod offline;
mod results;
mod review;
mod run;
mod samples;
mod side_by_side;
mod speed;
mod state;
mod threads;
mod worker;
