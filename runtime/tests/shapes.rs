//! Every function shape the attributes accept: each keeps its signature, stays callable, and sees
//! its own route while it runs.

use featgen::{Route, current, route, task};
use featgen_features::Feature;
use std::fmt::Display;

/// The endpoint name of the current route.
fn current_endpoint() -> Option<&'static str> {
    current().map(|route| route.endpoint)
}

/// Runs `future` to completion on a current-thread runtime.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

mod features {
    //! The generated features, reached by a full path from another module.
    pub use featgen_features::Feature;
}

/// Documented, public, with a lint attribute: all kept.
#[must_use]
#[route(GET, "/free", feature = Messaging)]
pub fn free_function() -> Option<&'static str> {
    current_endpoint()
}

#[route(GET, "/generic/{id}", feature = crate::features::Feature::Profiles)]
fn generic<T: Display, U>(value: T, _other: U) -> String
where
    U: Clone,
{
    format!("{value}:{}", current_endpoint().unwrap())
}

#[task(feature = Messaging)]
fn impl_trait(items: impl IntoIterator<Item = u32>) -> impl Iterator<Item = String> {
    let route = current_endpoint().unwrap();
    items
        .into_iter()
        .map(move |item| format!("{route}{item}"))
        .collect::<Vec<_>>()
        .into_iter()
}

#[route(POST, "/borrowed", feature = TextInVoice)]
async fn borrowed<'a>(text: &'a str, numbers: &[u32]) -> (&'a str, usize, Option<&'static str>) {
    tokio::task::yield_now().await;
    (text, numbers.len(), current_endpoint())
}

#[task(feature = Messaging)]
async fn fallible(fail: bool) -> Result<Option<&'static str>, std::io::Error> {
    if fail {
        Err(std::io::Error::other("failed"))?;
    }
    tokio::task::yield_now().await;
    Ok(current_endpoint())
}

#[task(feature = Messaging)]
async fn coerced(early: bool) -> Box<dyn Display> {
    tokio::task::yield_now().await;
    if early {
        // Each return coerces to the declared type, as in an unmarked async fn.
        return Box::new(current_endpoint().unwrap());
    }
    Box::new(1)
}

/// A type with associated functions and methods of every receiver.
#[derive(Default)]
struct Service {
    calls: u32,
}

impl Service {
    #[route(GET, "/new", feature = Messaging, endpoint = "service.new")]
    fn new() -> (Self, Option<&'static str>) {
        (Service::default(), current_endpoint())
    }

    #[route(GET, "/ref", feature = Messaging)]
    fn by_ref(&self) -> Option<&'static str> {
        current_endpoint()
    }

    #[route(GET, "/mut", feature = Messaging)]
    fn by_mut(&mut self) -> Option<&'static str> {
        self.calls += 1;
        current_endpoint()
    }

    #[route(GET, "/value", feature = Messaging)]
    fn by_value(self) -> (u32, Option<&'static str>) {
        (self.calls, current_endpoint())
    }

    #[route(GET, "/async-ref", feature = Messaging)]
    async fn async_by_ref(&self, suffix: &str) -> String {
        tokio::task::yield_now().await;
        format!("{}{suffix}", current_endpoint().unwrap())
    }

    #[route(GET, "/async-mut", feature = Messaging)]
    async fn async_by_mut(&mut self) -> Option<&'static str> {
        self.calls += 1;
        tokio::task::yield_now().await;
        current_endpoint()
    }
}

#[test]
fn free_generic_and_impl_trait_functions() {
    assert_eq!(free_function(), Some("free_function"));
    assert_eq!(generic(7, "x"), "7:generic");
    assert_eq!(
        impl_trait([1, 2]).collect::<Vec<_>>(),
        ["impl_trait1", "impl_trait2"]
    );
    assert_eq!(current(), None);
}

#[test]
fn async_functions_with_borrowed_arguments_and_question_mark() {
    let text = String::from("hello");
    let numbers = vec![1, 2, 3];
    assert_eq!(
        block_on(borrowed(&text, &numbers)),
        ("hello", 3, Some("borrowed"))
    );
    assert_eq!(block_on(fallible(false)).unwrap(), Some("fallible"));
    assert!(block_on(fallible(true)).is_err());
    assert_eq!(block_on(coerced(true)).to_string(), "coerced");
    assert_eq!(block_on(coerced(false)).to_string(), "1");
}

#[test]
fn associated_functions_and_methods() {
    let (mut service, endpoint) = Service::new();
    assert_eq!(endpoint, Some("service.new"));
    assert_eq!(service.by_ref(), Some("by_ref"));
    assert_eq!(service.by_mut(), Some("by_mut"));
    assert_eq!(block_on(service.async_by_ref("!")), "async_by_ref!");
    assert_eq!(block_on(service.async_by_mut()), Some("async_by_mut"));
    assert_eq!(service.by_value(), (2, Some("by_value")));
}

/// A trait implemented with `#[async_trait]`, whose methods reach the macro already rewritten.
#[async_trait::async_trait]
trait Store {
    /// Loads a message.
    async fn load(&self, id: u64) -> String;
}

#[async_trait::async_trait]
impl Store for Service {
    #[route(GET, "/messages/{id}", feature = Messaging, endpoint = "store.load")]
    async fn load(&self, id: u64) -> String {
        tokio::task::yield_now().await;
        format!("{id}:{}", current_endpoint().unwrap())
    }
}

/// A trait with a native `async fn`.
trait Native {
    /// Counts something.
    async fn count(&self) -> Option<&'static str>;
}

impl Native for Service {
    #[task(feature = Messaging, endpoint = "native.count")]
    async fn count(&self) -> Option<&'static str> {
        tokio::task::yield_now().await;
        current_endpoint()
    }
}

#[test]
fn trait_methods_async_trait_and_native() {
    let service = Service::default();
    assert_eq!(block_on(service.load(3)), "3:store.load");
    let boxed: Box<dyn Store> = Box::new(Service::default());
    assert_eq!(block_on(boxed.load(4)), "4:store.load");
    assert_eq!(block_on(service.count()), Some("native.count"));
}

#[tracing::instrument]
#[route(GET, "/instrumented-outside", feature = Messaging)]
async fn instrument_outside(id: u32) -> Option<&'static str> {
    tokio::task::yield_now().await;
    current_endpoint()
}

#[route(GET, "/instrumented-inside", feature = Messaging)]
#[tracing::instrument]
async fn instrument_inside(id: u32) -> Option<&'static str> {
    tokio::task::yield_now().await;
    current_endpoint()
}

#[route(GET, "/instrumented-sync", feature = Messaging)]
#[tracing::instrument]
fn instrument_sync(id: u32) -> Option<&'static str> {
    current_endpoint()
}

#[test]
fn combined_with_tracing_instrument_in_either_order() {
    assert_eq!(block_on(instrument_outside(1)), Some("instrument_outside"));
    assert_eq!(block_on(instrument_inside(2)), Some("instrument_inside"));
    assert_eq!(instrument_sync(3), Some("instrument_sync"));
}

#[tokio::main(flavor = "current_thread")]
#[task(feature = Messaging)]
async fn tokio_main_outside() -> Option<&'static str> {
    tokio::task::yield_now().await;
    current_endpoint()
}

#[task(feature = Messaging)]
#[tokio::main(flavor = "current_thread")]
async fn tokio_main_inside() -> Option<&'static str> {
    tokio::task::yield_now().await;
    current_endpoint()
}

#[test]
fn combined_with_tokio_main_in_either_order() {
    assert_eq!(tokio_main_outside(), Some("tokio_main_outside"));
    assert_eq!(tokio_main_inside(), Some("tokio_main_inside"));
}

#[route("PROPFIND", "/dav/{*rest}", feature = Messaging)]
fn custom_method() -> &'static Route {
    current().unwrap()
}

#[route(DELETE, "/legacy/:id", feature = Messaging)]
fn colon_parameter() -> &'static Route {
    current().unwrap()
}

#[test]
fn custom_methods_and_path_styles() {
    assert_eq!(custom_method().method, "PROPFIND");
    assert_eq!(custom_method().path, "/dav/{*rest}");
    assert_eq!(colon_parameter().path, "/legacy/:id");
}
