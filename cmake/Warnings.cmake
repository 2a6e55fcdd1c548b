# Applied to every target we own (third-party headers are SYSTEM includes).
add_compile_options(-Wall -Wextra -Werror -Wno-missing-field-initializers)
# GCC 12 reports -Wrestrict false positives inside libstdc++'s std::string at -O2 (GCC bug 105329).
add_compile_options($<$<CXX_COMPILER_ID:GNU>:-Wno-restrict>)
if(POPULI_SANITIZE)
  # UBSan without its vptr (dynamic type) check: it cost 11 % of the largest test TU's compile
  # time and about 3 % (33 CPU-seconds) of the whole sanitized build, and what it guards, a member
  # call through an object of the wrong dynamic type, needs a bad cast that the few class
  # hierarchies here (probes, runners, stores) do not make. Every other UBSan check stays on and
  # fatal.
  #
  # A failed UBSan check traps (an illegal instruction) instead of calling UBSan's reporting
  # runtime. Reporting calls need a source-location record per check in writable data: 100 MB of
  # `.data` in `vox`, which LeakSanitizer scans at every exit and the loader pages in, and a
  # quarter of a source file's compile time. With ASAN_OPTIONS=handle_sigill=1 (scripts/test sets
  # it) AddressSanitizer reports the trap with a symbolized stack whose first frame is the
  # offending file and line; only the name of the check is lost.
  add_compile_options(-fsanitize=address,undefined -fno-sanitize=vptr -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined -fsanitize-undefined-trap-on-error)
  add_link_options(-fsanitize=address,undefined)
  # Sanitized executables are linked as position-dependent: as a PIE, `vox` carried 3.3 million
  # relative relocations (ASan's descriptors of every global), which the loader applied at every
  # start, half of the 0.7 s one `vox` invocation took. The suite starts `vox` and the test
  # binaries a few thousand times. Release builds stay PIE.
  string(APPEND CMAKE_EXE_LINKER_FLAGS " -no-pie")
endif()
