//! `featgen lint`: finds endpoints and tasks that have no feature.
