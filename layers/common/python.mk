# Python 3.12, the Lambda runtime's version, found in one place for the root Makefile and both
# layers' Makefiles; each includes this file by a path relative to itself.
#
# RUNTIME_PYTHON (or PYTHON: either name, on the command line or in the environment) wins.
# Otherwise the first candidate that really runs 3.12: python3.12 on PATH (a pyenv shim there can
# exist and still fail when 3.12 is not the selected version), then pyenv's own 3.12 installs,
# wherever pyenv keeps them (PYENV_ROOT, else `pyenv root`, else its default ~/.pyenv).
# Both names end up set; RUNTIME_PYTHON is empty when no Python 3.12 was found.
ifndef RUNTIME_PYTHON
ifdef PYTHON
RUNTIME_PYTHON := $(PYTHON)
else
PYENV_VERSIONS := $(or $(PYENV_ROOT),$(shell pyenv root 2>/dev/null),$(HOME)/.pyenv)/versions
RUNTIME_PYTHON_CANDIDATES := $(shell command -v python3.12) $(wildcard $(PYENV_VERSIONS)/3.12*/bin/python3.12)
RUNTIME_PYTHON := $(firstword $(foreach p,$(RUNTIME_PYTHON_CANDIDATES),$(if $(shell "$(p)" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' >/dev/null 2>&1 && echo ok),$(p))))
endif
endif
PYTHON ?= $(or $(RUNTIME_PYTHON),python3.12)
