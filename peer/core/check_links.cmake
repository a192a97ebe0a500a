# Fails when the mesh core depends on gRPC++ or Asio (issue 9: "the core
# links neither Asio nor gRPC++"). Run by CTest:
#   cmake -DCLOSURE_FILE=<file> [-DBINARY=<exe>] -P check_links.cmake
# CLOSURE_FILE lists, one per line, every library the target links
# (meshkv_link_closure at configure time). BINARY, if given, is an executable
# that links the core: it must load no libgrpc++ (ldd) and hold no grpc:: or
# asio:: symbol (nm), which catches a header-only Asio as well.
file(STRINGS "${CLOSURE_FILE}" closure)
set(bad "")
foreach(lib ${closure})
  string(TOLOWER "${lib}" l)
  if(l MATCHES "grpc|asio")
    list(APPEND bad "${lib}")
  endif()
endforeach()
if(bad)
  message(FATAL_ERROR "links ${bad} (through: ${closure})")
endif()
list(LENGTH closure n)
message(STATUS "${n} libraries in the closure, none of gRPC or Asio")

if(BINARY)
  execute_process(COMMAND ldd "${BINARY}" OUTPUT_VARIABLE ldd RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "ldd ${BINARY} failed")
  endif()
  if(ldd MATCHES "libgrpc")
    message(FATAL_ERROR "${BINARY} loads gRPC:\n${ldd}")
  endif()
  execute_process(COMMAND nm -C "${BINARY}" OUTPUT_VARIABLE syms RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0 OR NOT syms MATCHES "meshkv::peer::Mesh::")
    message(FATAL_ERROR "nm ${BINARY} shows no mesh core: nothing was checked")
  endif()
  string(REGEX MATCH "[^\n]*(grpc|asio)::[^\n]*" hit "${syms}")
  if(hit)
    message(FATAL_ERROR "${BINARY} holds a gRPC or Asio symbol: ${hit}")
  endif()
  message(STATUS "${BINARY}: no libgrpc loaded, no grpc:: or asio:: symbol")
endif()
