// Boost.JSON and Boost.URL compiled from their headers into the fuzz targets, so the parsers a
// request body and a request target first meet are instrumented (coverage and ASan) like our own
// code; Debian's shared libraries carry no instrumentation. The targets' own definitions take
// precedence over the shared libraries' at link time.
#include <boost/json/src.hpp>
#include <boost/url/src.hpp>
