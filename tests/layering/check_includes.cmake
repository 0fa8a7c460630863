# SPDX-License-Identifier: MIT
# The include rules of docs/ARCHITECTURE.md, checked mechanically (cmake -DROOT=<repo> -P this):
#  - uart/, dfu/, image/ (headers and sources): every #include is on the allow-list below: standard
#    headers without threads, and the base headers plus their own layer's headers;
#  - uart/ and dfu/ name no clock or sleep (time is an input of the engines);
#  - transport/ includes nothing from sim/, session/ or the engines (uart/, dfu/).
# Prints every violation with file and line, and fails when there is one.
if(NOT ROOT)
  message(FATAL_ERROR "give -DROOT=<source tree>")
endif()

set(std_allowed
  algorithm array bit cassert cctype cerrno charconv chrono cinttypes climits cmath compare cstddef
  cstdint cstdio cstdlib cstring deque filesystem fstream functional initializer_list iomanip ios
  iterator limits map memory numeric optional set span sstream stdexcept string string_view
  system_error tuple type_traits unordered_map unordered_set utility variant vector)
set(base_allowed mp1boot/bytes.hpp mp1boot/error.hpp mp1boot/soc.hpp mp1boot/usb.hpp mp1boot/phase.hpp
  mp1boot/vocabulary.hpp
  mp1boot/temporary_buffer.hpp)

set(violations "")
macro(violation file line text)
  file(RELATIVE_PATH _rel "${ROOT}" "${file}")
  string(APPEND violations "${_rel}:${line}: ${text}\n")
endmacro()

# Lines of the files that match `regex`, as "file|line|match 1|match 2".
function(scan_lines files regex out_var)
  set(result "")
  foreach(f ${files})
    file(STRINGS "${f}" lines)
    set(n 0)
    foreach(l IN LISTS lines)
      math(EXPR n "${n} + 1")
      if(l MATCHES "${regex}")
        list(APPEND result "${f}|${n}|${CMAKE_MATCH_1}|${CMAKE_MATCH_2}")
      endif()
    endforeach()
  endforeach()
  set(${out_var} "${result}" PARENT_SCOPE)
endfunction()
set(include_regex "^[ \t]*#[ \t]*include[ \t]*([<\"])([^>\"]+)[>\"]")

foreach(layer uart dfu image)
  file(GLOB_RECURSE files "${ROOT}/cpp/include/mp1boot/${layer}/*" "${ROOT}/cpp/src/${layer}/*")
  scan_lines("${files}" "${include_regex}" incs)
  foreach(entry IN LISTS incs)
    string(REPLACE "|" ";" parts "${entry}")
    list(GET parts 0 f)
    list(GET parts 1 n)
    list(GET parts 2 kind)
    list(GET parts 3 inc)
    if(kind STREQUAL "<")
      if(NOT inc IN_LIST std_allowed)
        violation("${f}" ${n} "${layer}/ may not include <${inc}> (not on the allow-list of standard headers)")
      endif()
    elseif(NOT inc IN_LIST base_allowed AND NOT inc MATCHES "^mp1boot/${layer}/[a-z0-9_]+\\.hpp$")
      violation("${f}" ${n} "${layer}/ may not include \"${inc}\" (only base headers and mp1boot/${layer}/)")
    endif()
  endforeach()
  if(NOT layer STREQUAL "image")
    scan_lines("${files}" "(steady_clock|system_clock|high_resolution_clock|sleep_for|sleep_until|std::thread)" uses)
    foreach(entry IN LISTS uses)
      string(REPLACE "|" ";" parts "${entry}")
      list(GET parts 0 f)
      list(GET parts 1 n)
      list(GET parts 2 what)
      violation("${f}" ${n} "${layer}/ is an engine: no clocks, sleeps or threads (${what})")
    endforeach()
  endif()
endforeach()

file(GLOB_RECURSE files "${ROOT}/cpp/include/mp1boot/transport/*" "${ROOT}/cpp/src/transport/*")
scan_lines("${files}" "${include_regex}" incs)
foreach(entry IN LISTS incs)
  string(REPLACE "|" ";" parts "${entry}")
  list(GET parts 0 f)
  list(GET parts 1 n)
  list(GET parts 3 inc)
  if(inc MATCHES "^mp1boot/(sim|session|uart|dfu)/")
    violation("${f}" ${n} "transport/ may not include \"${inc}\" (transports know no simulator, session or protocol)")
  endif()
endforeach()

if(violations)
  message(NOTICE "${violations}")
  message(FATAL_ERROR "include rules broken (each line above names one)")
endif()
message(STATUS "include rules hold (uart/, dfu/, image/ against the allow-list; transport/ without sim/, session/, engines)")
