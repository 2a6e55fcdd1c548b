#include "store/conformance.h"
#include "store/sqlite.h"

namespace populi::store::testing {

const std::vector<Backend>& Backends() {
  static const std::vector<Backend> kBackends = {
      {"sqlite",
       [](const std::string& dir) {
         SqliteOptions options;
         options.directory = dir;
         options.reader_pool_size = 2;
         return OpenSqliteStore(options);
       }},
  };
  return kBackends;
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreConformance, ::testing::ValuesIn(Backends()),
                         [](const auto& info) { return info.param.name; });

}  // namespace populi::store::testing
