# Holds one JSON Schema (draft 2020-12) per artifact; a package only so it installs with the library.
