//! featgen runtime: the current route, the route list and the sampling profiler.
