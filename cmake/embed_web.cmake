# itd_embed_web(OUT_VAR DIR SYMBOL): the dashboard's assets as the C table
# `const struct itd_embedded SYMBOL[]` (see itd_embed in embed.cmake, whose
# generator script it shares): every DIR/*.html, *.js, *.css, *.svg and
# *.png, plus Chart.js from Debian's libjs-chart.js (its UMD build, which
# defines the global `Chart`), embedded as "chart.min.js".  Nothing is
# fetched at build or run time.
set(ITD_CHARTJS /usr/share/javascript/chart.js/chart.min.js CACHE FILEPATH
    "Chart.js 3 UMD build embedded into the dashboard (Debian package libjs-chart.js)")

function(itd_embed_web out_var dir symbol)
  if(NOT EXISTS "${ITD_CHARTJS}")
    message(FATAL_ERROR
      "Chart.js not found at ${ITD_CHARTJS}: the dashboard embeds it at build time. "
      "Install the Debian package libjs-chart.js (apt-get install libjs-chart.js), "
      "or point -DITD_CHARTJS=FILE at a Chart.js 3 UMD build (chart.min.js).")
  endif()
  # A copy under its fixed name (the page asks for /assets/chart.min.js);
  # configure_file also re-runs the configuration when the file changes.
  set(chart ${CMAKE_BINARY_DIR}/web/chart.min.js)
  configure_file("${ITD_CHARTJS}" ${chart} COPYONLY)
  file(GLOB files CONFIGURE_DEPENDS ${dir}/*.html ${dir}/*.js ${dir}/*.css ${dir}/*.svg
       ${dir}/*.png)
  foreach(f ${files})
    get_filename_component(name ${f} NAME)
    if(name STREQUAL "chart.min.js")
      message(FATAL_ERROR "${f}: the name chart.min.js is taken by the embedded Chart.js")
    endif()
  endforeach()
  list(SORT files)
  list(APPEND files ${chart})
  set(out ${CMAKE_BINARY_DIR}/embed_${symbol}.c)
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DOUT=${out} -DSYMBOL=${symbol} "-DFILES=${files}"
            -P ${PROJECT_SOURCE_DIR}/cmake/embed_gen.cmake
    DEPENDS ${files} ${PROJECT_SOURCE_DIR}/cmake/embed_gen.cmake
    COMMENT "Embedding ${symbol}"
    VERBATIM)
  set(${out_var} ${out} PARENT_SCOPE)
endfunction()
