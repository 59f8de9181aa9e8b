"""The apps stand in layers, and these tests hold them.

``contacts`` (people, lists, suppressions) and ``providers`` (accounts,
backends, wire formats, callbacks parsed into plain reports) know nothing of
``campaigns``, which sits on top; ``providers`` knows nothing of ``contacts``
either. Where a lower app needs what only a higher one knows, it defines a
small registry or signal and the higher one fills it. Tasks call services;
services never import their app's tasks.

Imports are read from the source (every ``import`` and ``from … import``,
at any depth, so a lazy import inside a function counts too).
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# app -> the apps it must not import
FORBIDDEN = {
    "providers": ("campaigns", "contacts"),
    "contacts": ("campaigns",),
}


def imports_of(path: Path, root: Path = ROOT) -> list[tuple[int, str]]:
    """(line, absolute module) for every import in the file; relative imports
    are resolved against the file's package. ``from a import b`` gives both
    ``a`` and ``a.b`` (b may be a module)."""
    package = path.relative_to(root).parts[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            # "from . import tasks" imports the module package.tasks.
            found += [(node.lineno, module)]
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
    return found


def python_files(app: str, root: Path = ROOT):
    return sorted(p for p in (root / app).rglob("*.py") if "migrations" not in p.parts)


def cross_layer_imports(root: Path = ROOT) -> list[str]:
    broken = []
    for app, above in FORBIDDEN.items():
        for path in python_files(app, root):
            named = {}
            for line, module in imports_of(path, root):
                top = module.split(".")[0]
                if top in above:
                    named.setdefault(line, f"{module} ({app} is below {top})")
            where = path.relative_to(root)
            broken += [f"{where}:{line} imports {what}" for line, what in named.items()]
    return sorted(broken)


def services_importing_tasks(root: Path = ROOT) -> list[str]:
    broken = []
    for app in ("campaigns", "contacts", "providers"):
        for path in python_files(app, root):
            relative = path.relative_to(root)
            if "services" not in (path.stem, *relative.parts[1:-1]):
                continue
            named = {}
            for line, module in imports_of(path, root):
                if module == f"{app}.tasks" or module.startswith(f"{app}.tasks."):
                    named.setdefault(line, module)
            broken += [
                f"{relative}:{line} imports {module} (services never import tasks)"
                for line, module in named.items()
            ]
    return sorted(broken)


def test_lower_apps_never_import_the_apps_above_them():
    assert cross_layer_imports() == []


def test_no_services_module_imports_its_apps_tasks():
    assert services_importing_tasks() == []


# -- the checks themselves find what they are for --------------------------------------


@pytest.fixture
def tree(tmp_path):
    for app in ("campaigns", "contacts", "providers"):
        (tmp_path / app).mkdir()
        (tmp_path / app / "__init__.py").write_text("")
    return tmp_path


def test_a_lazy_import_reaching_up_is_named_with_its_file_and_line(tree):
    (tree / "providers" / "services.py").write_text(
        "def f():\n    from campaigns.models import Message\n"
    )
    (tree / "contacts" / "views.py").write_text("import campaigns.selectors\n")

    assert cross_layer_imports(tree) == [
        "contacts/views.py:1 imports campaigns.selectors (contacts is below campaigns)",
        "providers/services.py:2 imports campaigns.models (providers is below campaigns)",
    ]


def test_providers_reaching_across_into_contacts_is_named(tree):
    (tree / "providers" / "forms.py").write_text("from contacts.phones import normalise\n")

    assert cross_layer_imports(tree) == [
        "providers/forms.py:1 imports contacts.phones (providers is below contacts)"
    ]


def test_a_service_importing_its_tasks_relatively_is_named(tree):
    (tree / "contacts" / "services.py").write_text(
        "def start():\n    from .tasks import import_contacts\n"
    )
    (tree / "campaigns" / "services.py").write_text("from . import tasks\n")
    (tree / "campaigns" / "views.py").write_text("from . import tasks\n")

    assert services_importing_tasks(tree) == [
        "campaigns/services.py:1 imports campaigns.tasks (services never import tasks)",
        "contacts/services.py:2 imports contacts.tasks (services never import tasks)",
    ]
