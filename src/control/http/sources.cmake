# Sources of populi::http, included from src/control/CMakeLists.txt. Beast/Asio headers are
# precompiled for the server TUs only; every other TU here stays free of Asio.
target_sources(populi_http PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/response.cc
  ${CMAKE_CURRENT_LIST_DIR}/response_head.cc)
target_link_libraries(populi_http PUBLIC spdlog::spdlog)
target_compile_definitions(populi_http PRIVATE POPULI_WIRE_VERSION="${POPULI_WIRE_VERSION}")
target_sources(populi_http PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/auth.cc
  ${CMAKE_CURRENT_LIST_DIR}/rate_limit.cc
  ${CMAKE_CURRENT_LIST_DIR}/request_record.cc
  ${CMAKE_CURRENT_LIST_DIR}/server.cc
  ${CMAKE_CURRENT_LIST_DIR}/session_plain.cc
  ${CMAKE_CURRENT_LIST_DIR}/session_tls.cc)
target_precompile_headers(populi_http PRIVATE
  "$<$<COMPILE_LANGUAGE:CXX>:${CMAKE_CURRENT_LIST_DIR}/server_pch.h>")
set_source_files_properties(
  ${CMAKE_CURRENT_LIST_DIR}/router.cc ${CMAKE_CURRENT_LIST_DIR}/response.cc
  ${CMAKE_CURRENT_LIST_DIR}/response_head.cc
  ${CMAKE_CURRENT_LIST_DIR}/auth.cc
  ${CMAKE_CURRENT_LIST_DIR}/rate_limit.cc
  ${CMAKE_CURRENT_LIST_DIR}/request_record.cc
  PROPERTIES SKIP_PRECOMPILE_HEADERS ON)
# The Beast TUs stay apart (each is large; together they would be one long serial compile).
set_target_properties(populi_http PROPERTIES UNITY_BUILD OFF)
