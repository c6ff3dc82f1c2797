# pgdog_control_add_plugin(<target> NAME <name> SOURCES <src>...)
#
# Builds a coordination plugin the way the host expects it: a MODULE named
# <name>.so that exports exactly one symbol (the ABI entry point), with hidden
# visibility, every symbol resolved at link time (-z defs) and static
# dependencies kept private (--exclude-libs). Link your own dependencies with
# target_link_libraries(<target> PRIVATE ...) afterwards.
function(pgdog_control_add_plugin target)
  set(_PGDC_PLUGIN_MAP "${CMAKE_CURRENT_FUNCTION_LIST_DIR}/pgdog-control-plugin.map")
  cmake_parse_arguments(ARG "" "NAME;OUTPUT_DIRECTORY" "SOURCES" ${ARGN})
  if(NOT ARG_NAME)
    message(FATAL_ERROR "pgdog_control_add_plugin(${target}): NAME is required")
  endif()
  if(NOT ARG_NAME MATCHES "^[a-z0-9][a-z0-9-]*$")
    message(FATAL_ERROR "pgdog_control_add_plugin(${target}): NAME '${ARG_NAME}' must match [a-z0-9][a-z0-9-]*")
  endif()
  add_library(${target} MODULE ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE PgDogControl::sdk)
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    OUTPUT_NAME "${ARG_NAME}"
    CXX_VISIBILITY_PRESET hidden
    C_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    LINK_DEPENDS "${_PGDC_PLUGIN_MAP}")
  if(ARG_OUTPUT_DIRECTORY)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY "${ARG_OUTPUT_DIRECTORY}")
  endif()
  target_link_options(${target} PRIVATE
    "LINKER:-z,defs"
    "LINKER:--exclude-libs,ALL"
    "LINKER:--version-script=${_PGDC_PLUGIN_MAP}")
endfunction()
