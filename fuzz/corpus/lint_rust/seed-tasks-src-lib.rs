//! Fixture: background tasks started through configured calls.
mod jobs;

use featgen::task;
use jobs::Scheduler;
use tokio::spawn;

#[task(feature = Expiry)]
async fn expire_attachments() {}

async fn rebuild_index() {}

async fn send_digest() {}

fn compact() {}

async fn reindex() {}

pub fn start(scheduler: &mut Scheduler, interval: u64) {
    tokio::spawn(expire_attachments());
    spawn(rebuild_index());
    tokio::task::spawn(async move { loop {} });
    Scheduler::register("digest", send_digest);
    scheduler.register(compact);
    scheduler.register(interval);
    jobs::run(jobs::cleanup());
    // The spawned future inherits the current route: attributed, not reported.
    tokio::spawn(featgen::in_current_route(reindex()));
    tokio::spawn(featgen::scope(&jobs::ROUTE, reindex()));
}
