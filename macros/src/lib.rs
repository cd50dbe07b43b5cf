//! `#[route]` and `#[task]`: assign an endpoint or background task its feature.
