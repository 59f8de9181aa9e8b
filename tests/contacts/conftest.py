import pytest


@pytest.fixture(autouse=True)
def import_dir(settings, tmp_path):
    """Uploaded files and error reports of each test in its own folder."""
    settings.CONTACT_IMPORT_DIR = str(tmp_path / "imports")
    return tmp_path / "imports"
