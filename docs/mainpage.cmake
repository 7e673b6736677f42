# Writes the reference manual's main page (OUTPUT) from README.md (README): the README's title
# and introduction, and its "Use it" section, verbatim. Run by the `docs` target at every build,
# so the manual shows what the README says.
#
#   cmake -DREADME=<README.md> -DOUTPUT=<file> -P docs/mainpage.cmake

file(READ ${README} text)

# The introduction: everything before the first "## " heading.
string(FIND "${text}" "\n## " intro_end)
if(intro_end EQUAL -1)
    message(FATAL_ERROR "${README}: no \"## \" section")
endif()
string(SUBSTRING "${text}" 0 ${intro_end} intro)

# "## Use it", up to the next "## " heading (or the end).
set(heading "\n## Use it\n")
string(FIND "${text}" "${heading}" use_begin)
if(use_begin EQUAL -1)
    message(FATAL_ERROR "${README}: no \"## Use it\" section")
endif()
math(EXPR use_begin "${use_begin} + 1")
string(SUBSTRING "${text}" ${use_begin} -1 rest)
string(LENGTH "${heading}" heading_length)
string(SUBSTRING "${rest}" ${heading_length} -1 after_heading)
string(FIND "${after_heading}" "\n## " use_end)
if(NOT use_end EQUAL -1)
    math(EXPR use_end "${use_end} + ${heading_length}")
    string(SUBSTRING "${rest}" 0 ${use_end} rest)
endif()

# A link to a file of the repository ("[`examples/x.cpp`](examples/x.cpp)") leads nowhere from
# the manual: its text stays, as a path in the repository.
set(page "${intro}\n\n${rest}\n")
string(REGEX REPLACE "\\[([^]]*)\\]\\(([^):#]*)\\)" "\\1" page "${page}")
file(WRITE ${OUTPUT} "${page}")
