# Holds the card template; a package only so it installs with the library.
