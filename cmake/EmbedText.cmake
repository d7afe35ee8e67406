# Writes a C++ source defining `const char NAME[]` with the text of IN, so a
# page or script ships inside the binary. Run as: cmake -DIN= -DOUT= -DNAME= -P EmbedText.cmake
file(READ ${IN} content)
string(FIND "${content}" ")LSEMBED\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${IN} contains the raw-string delimiter")
endif()
file(WRITE ${OUT} "// Generated from ${IN} by cmake/EmbedText.cmake. DO NOT EDIT.\n"
  "extern const char ${NAME}[];\n"
  "const char ${NAME}[] = R\"LSEMBED(${content})LSEMBED\";\n")
