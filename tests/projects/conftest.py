"""A fresh project per test (see :mod:`tests.projects.builder`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.projects.builder import Project, make_site_packages


@pytest.fixture
def make_project(tmp_path, django_db_blocker) -> Iterator[Callable[..., Project]]:
    made: list[Project] = []
    packages = make_site_packages(tmp_path)

    def make(settings: str = "", **kwargs: str) -> Project:
        with django_db_blocker.unblock():
            project = Project(tmp_path / f"p{len(made)}", packages, settings, **kwargs)
        made.append(project)
        return project

    yield make
    with django_db_blocker.unblock():
        for project in made:
            project.drop_database()
