import pytest

from tests.unit.cdr.sample_book import sample_book


@pytest.fixture(scope="module")
def book():
    # process_cdr only reads the book (its plan caches are derived data), so one per module is safe
    return sample_book()
