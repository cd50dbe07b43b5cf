//! A scheduler whose `register` calls are configured as task registrations.
pub struct Scheduler;

impl Scheduler {
    pub fn register<F>(_name: &str, _task: F) {}
}

pub async fn cleanup() {}

pub fn run<F>(_task: F) {}
