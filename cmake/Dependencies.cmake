# Every dependency is a Debian package (scripts/setup installs them); nothing is downloaded.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(Boost 1.81.0 EXACT REQUIRED CONFIG COMPONENTS json url)
find_package(SQLite3 REQUIRED)
find_package(OpenSSL 3 REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(fmt CONFIG REQUIRED)
find_package(spdlog CONFIG REQUIRED)
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium)
pkg_check_modules(HWLOC REQUIRED IMPORTED_TARGET hwloc)
pkg_check_modules(TOMLPP REQUIRED IMPORTED_TARGET tomlplusplus)
pkg_check_modules(LIBPQ REQUIRED IMPORTED_TARGET libpq)
if(POPULI_BUILD_TESTS)
  find_package(GTest CONFIG REQUIRED)
endif()
if(POPULI_BUILD_BENCH)
  find_package(benchmark CONFIG REQUIRED)
endif()

# Declares a module library: populi_module(NAME SOURCES ... DEPS ...).
# Public headers live beside the sources and are included as "<module>/<header>.h" from src/.
function(populi_module name)
  cmake_parse_arguments(M "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(populi_${name} STATIC ${M_SOURCES})
  target_include_directories(populi_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(populi_${name} PUBLIC ${M_DEPS} PRIVATE ${M_PRIVATE_DEPS})
  add_library(populi::${name} ALIAS populi_${name})
  # A module's files are compiled a few at a time (a unity build): the headers they share (the
  # standard library, Boost.JSON, spdlog) are parsed once per batch instead of once per file. On 2
  # cores this is a quarter of the sanitized build's CPU time. File-local names must therefore be
  # unique within a module.
  set_target_properties(populi_${name} PROPERTIES UNITY_BUILD ON UNITY_BUILD_BATCH_SIZE 8)
endfunction()
