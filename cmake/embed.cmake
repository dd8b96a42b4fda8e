# itd_embed(OUT_VAR DIR SYMBOL EXT): turn every DIR/*.EXT file into a C
# table `const struct itd_embedded SYMBOL[]` (name, data, size), terminated
# by a NULL name, compiled into the binary.  Done in CMake script so the
# build needs no xxd.
function(itd_embed out_var dir symbol ext)
  file(GLOB files CONFIGURE_DEPENDS ${dir}/*.${ext})
  list(SORT files)
  set(out ${CMAKE_BINARY_DIR}/embed_${symbol}.c)
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DOUT=${out} -DSYMBOL=${symbol} -DEXT=${ext}
            "-DFILES=${files}" -P ${PROJECT_SOURCE_DIR}/cmake/embed_gen.cmake
    DEPENDS ${files} ${PROJECT_SOURCE_DIR}/cmake/embed_gen.cmake
    COMMENT "Embedding ${symbol}")
  set(${out_var} ${out} PARENT_SCOPE)
endfunction()
