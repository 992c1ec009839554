"""Package discovery for the folders pyproject.toml maps in [tool.setuptools.package-dir]:
each mapped package and every package below its folder, so a new subpackage installs
without being listed. (pyproject's `packages.find` cannot give a found folder another
package prefix, which stages/, schemas/ and model_card/ need.) Everything else is in
pyproject.toml."""

import tomllib
from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).resolve().parent
ROOTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]

PACKAGES = [name for root, folder in ROOTS.items()
            for name in [root, *(f"{root}.{sub}" for sub in find_packages(ROOT / folder))]]

setup(packages=sorted(PACKAGES))
