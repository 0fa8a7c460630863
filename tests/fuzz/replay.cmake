# SPDX-License-Identifier: MIT
# Included by tests/CMakeLists.txt: every committed fuzz input (the seeds and the regression cases of
# tests/fuzz/corpus/NAME) replayed through its harness, built with the project's compiler, so that
# `make test` (and `make asan`, under the sanitizers) runs them without clang or libFuzzer.
file(GLOB MP1BOOT_FUZZ_HARNESSES CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/fuzz_*.cpp)
foreach(src ${MP1BOOT_FUZZ_HARNESSES})
  get_filename_component(name ${src} NAME_WE)
  add_executable(replay_${name} ${src} ${CMAKE_CURRENT_LIST_DIR}/replay_main.cpp)
  target_link_libraries(replay_${name} PRIVATE mp1boot)
  add_test(NAME fuzz_replay.${name} COMMAND replay_${name} ${CMAKE_CURRENT_LIST_DIR}/corpus/${name})
  set_tests_properties(fuzz_replay.${name} PROPERTIES LABELS fuzz_replay TIMEOUT 120)
endforeach()
