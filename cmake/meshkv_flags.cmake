# Compiler checks and sanitizers, per target.
#
# Two INTERFACE targets carry the options:
#   meshkv_warnings   -Wall -Wextra and friends; -Werror with MESHKV_WERROR=ON;
#                     with clang also -Wthread-safety -Werror=thread-safety, so
#                     ABSL_GUARDED_BY and friends are checked, not comments.
#   meshkv_sanitize   -fsanitize=... for MESHKV_SANITIZE=address|thread and
#                     MESHKV_FUZZ (compile and link options).
# meshkv_apply_flags() (called once, at the end of the top-level
# CMakeLists.txt) links both to every target defined in this tree, so a new
# library or test gets them without a line of its own. A target with the
# property MESHKV_GENERATED set (the protobuf/gRPC libraries, whose sources
# protoc writes) gets the sanitizers but not the warnings; its headers are
# included as SYSTEM headers, so they do not warn in our code either.

option(MESHKV_WERROR "Treat compiler warnings as errors" OFF)
set(MESHKV_SANITIZE "" CACHE STRING "Sanitizer build: address (ASan+UBSan) or thread")
option(MESHKV_FUZZ "Build libFuzzer targets (needs clang)" OFF)

add_library(meshkv_warnings INTERFACE)
target_compile_options(meshkv_warnings INTERFACE
  -Wall
  -Wextra
  # Partial aggregate initialisation ({Task::kOffer}) is the house idiom:
  # the members left out have default member initialisers.
  -Wno-missing-field-initializers
  -Wnon-virtual-dtor
  -Wcast-qual
  -Wformat=2
  -Wimplicit-fallthrough
  $<$<BOOL:${MESHKV_WERROR}>:-Werror>)
if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  # Always an error: a lock the analysis cannot see is a bug or a missing
  # annotation, never noise.
  target_compile_options(meshkv_warnings INTERFACE -Wthread-safety -Werror=thread-safety)
endif()

add_library(meshkv_sanitize INTERFACE)
if(MESHKV_SANITIZE STREQUAL "address")
  # Any UBSan finding stops the program, so a test cannot pass over one.
  target_compile_options(meshkv_sanitize INTERFACE
    -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  target_link_options(meshkv_sanitize INTERFACE -fsanitize=address,undefined)
elseif(MESHKV_SANITIZE STREQUAL "thread")
  target_compile_options(meshkv_sanitize INTERFACE -fsanitize=thread -fno-omit-frame-pointer)
  target_link_options(meshkv_sanitize INTERFACE -fsanitize=thread)
elseif(NOT MESHKV_SANITIZE STREQUAL "")
  message(FATAL_ERROR "MESHKV_SANITIZE must be address, thread or empty")
endif()
if(MESHKV_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "MESHKV_FUZZ needs clang: -DCMAKE_CXX_COMPILER=clang++-14")
  endif()
  target_compile_options(meshkv_sanitize INTERFACE
    -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer)
  target_link_options(meshkv_sanitize INTERFACE -fsanitize=address,undefined)
endif()

# Every buildsystem target defined in `dir` and the directories below it.
function(meshkv_targets_in dir out)
  get_property(targets DIRECTORY "${dir}" PROPERTY BUILDSYSTEM_TARGETS)
  get_property(subdirs DIRECTORY "${dir}" PROPERTY SUBDIRECTORIES)
  foreach(sub IN LISTS subdirs)
    meshkv_targets_in("${sub}" more)
    list(APPEND targets ${more})
  endforeach()
  set(${out} ${targets} PARENT_SCOPE)
endfunction()

function(meshkv_apply_flags)
  meshkv_targets_in("${PROJECT_SOURCE_DIR}" targets)
  foreach(t IN LISTS targets)
    get_target_property(type ${t} TYPE)
    if(NOT type MATCHES "^(EXECUTABLE|STATIC_LIBRARY|SHARED_LIBRARY|MODULE_LIBRARY|OBJECT_LIBRARY)$")
      continue()
    endif()
    target_link_libraries(${t} PRIVATE meshkv_sanitize)
    get_target_property(generated ${t} MESHKV_GENERATED)
    if(NOT generated)
      target_link_libraries(${t} PRIVATE meshkv_warnings)
    endif()
  endforeach()
endfunction()
