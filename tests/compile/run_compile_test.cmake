# SPDX-License-Identifier: MIT
# Runs the compiler on SOURCE: plain it must compile; with each -D of REFUSE it must fail and
# the diagnostic must say "deleted" (a missing header or a typo would fail differently).
# -DCXX=... -DINCLUDES=a;b -DSOURCE=... -DREFUSE=REFUSE_A;REFUSE_B
set(flags -std=c++20 -fsyntax-only)
foreach(dir ${INCLUDES})
  list(APPEND flags -I${dir})
endforeach()
execute_process(COMMAND ${CXX} ${flags} ${SOURCE} RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the accepted uses do not compile:\n${err}")
endif()
foreach(case ${REFUSE})
  execute_process(COMMAND ${CXX} ${flags} -D${case} ${SOURCE} RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(rc EQUAL 0)
    message(FATAL_ERROR "${case}: a temporary buffer was accepted")
  endif()
  if(NOT err MATCHES "deleted")
    message(FATAL_ERROR "${case}: failed for another reason than a deleted overload:\n${err}")
  endif()
  message(STATUS "${case}: refused (use of a deleted function)")
endforeach()
