"""The catalog store: reading catalog JSON, cards and question files; deduplication; saving."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.catalog import Catalog, CatalogError, CatalogRecord, read_records
from tests.conftest import CATALOG
from tests.seed import SEED

CARD = Path(__file__).parent.parent / "corpus" / "models" / "sisr-any-liif-rdn.yaml"


def write(path: Path, data: object) -> Path:
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_the_catalog_sample_reads_whole_with_every_field_and_extra_keys():
    records, problems = read_records(CATALOG / "catalog.json")
    assert problems == [] and len(records) == 52
    assert len({r.detailed_category for r in records}) >= 15
    liif = next(r for r in records if r.name == "SISR-Any-LIIF-RDN")
    assert liif.kind == "model" and liif.category == "Computer Vision"
    assert liif.detailed_category == "Single Image Super-Resolution" and liif.dataset == "DIV2K"
    assert liif.paper == "https://arxiv.org/pdf/2012.09161" and liif.github == "https://github.com/yinboc/liif"
    assert liif.huggingface is None  # null in the file
    assert any("License" in r.extra for r in records)  # unknown keys are kept


def test_loose_keys_empty_values_and_bad_records(tmp_path):
    path = write(
        tmp_path / "mine.json",
        [
            {"model_unique_name": " Mine ", "paper": "N/A", "GITHUB": "https://github.com/me/mine", "Stars": 3},
            "just a string",
            {"Summary": "no name here"},
            {"Model Unique Name": "Other", "Summary": None},
        ],
    )
    records, problems = read_records(path)
    assert [r.name for r in records] == ["Mine", "Other"]
    assert records[0].paper is None and records[0].github == "https://github.com/me/mine"
    assert records[0].extra == {"Stars": 3} and records[0].sources == [str(path)]
    assert len(problems) == 2
    assert problems[0].startswith(f"{path}: record 2: expected a mapping") and problems[0].endswith("skipped")
    assert "record 3: no name" in problems[1]


@pytest.mark.parametrize(
    ("content", "name", "problem"),
    [
        ("{not json", "broken.json", "not valid JSON"),
        ("[]", "empty.json", "the catalog list is empty"),
        ("name: X\nsummary: 3\naliases: 7\n", "card.yaml", "not a catalog list, a question file or a valid card"),
        ("", "empty.txt", "file is empty"),
    ],
)
def test_unreadable_files_name_the_file(tmp_path, content, name, problem):
    path = write(tmp_path / name, content)
    with pytest.raises(CatalogError) as error:
        read_records(path)
    assert str(error.value).startswith(str(path)) and problem in str(error.value)


def test_missing_file_and_folder(tmp_path):
    for path, problem in ((tmp_path / "nope.json", "no such file"), (tmp_path, "is a directory")):
        with pytest.raises(CatalogError, match=problem):
            read_records(path)


def test_a_question_file_gives_its_models_and_papers():
    records, _ = read_records(SEED)
    kinds = {r.name: r.kind for r in records}
    assert kinds["SISR-Any-LIIF-RDN"] == "model"
    assert kinds["FeatSharp: Your Vision Model Features, Sharper"] == "paper"
    assert len(records) == 4


def test_a_card_is_searchable_but_brings_no_links():
    (card,) = read_records(CARD)[0]
    assert card.kind == "model" and card.name == "SISR-Any-LIIF-RDN"
    assert card.record().links() == []  # a card's paper URLs only deduplicate
    assert "https://arxiv.org/abs/2012.09161" in card.match_urls
    assert card.detailed_category and "super-resolution" in card.detailed_category


def test_duplicates_merge_by_paper_or_name_and_fill_gaps(tmp_path):
    catalog = Catalog(tmp_path)
    first = catalog.add(read_records(CARD)[0])
    assert first.added == ["SISR-Any-LIIF-RDN"]
    # The same paper as an arXiv abs link of another version, under another name: the same work.
    twin = CatalogRecord(
        name="LIIF (RDN)", paper="http://arxiv.org/abs/2012.09161v2", github="https://github.com/yinboc/liif"
    )
    report = catalog.add([twin, CatalogRecord(name="sisr any liif rdn", dataset="DIV2K")])
    assert report.merged == ["SISR-Any-LIIF-RDN", "SISR-Any-LIIF-RDN"] and report.added == []
    (record,) = catalog.records
    assert record.paper == "http://arxiv.org/abs/2012.09161v2" and record.dataset == "DIV2K"
    assert record.summary and record.summary.startswith("Single-image super-resolution")  # the first one's words stay
    assert catalog.add([twin]).unchanged == ["SISR-Any-LIIF-RDN"]


def test_a_model_and_its_paper_become_one_model_record(tmp_path):
    catalog = Catalog(tmp_path)
    catalog.add(
        [
            CatalogRecord(
                kind="paper", name="Learning Continuous Image Representation", paper="https://arxiv.org/pdf/2012.09161"
            )
        ]
    )
    catalog.add([CatalogRecord(kind="model", name="SISR-Any-LIIF-RDN", paper="https://arxiv.org/abs/2012.09161")])
    (record,) = catalog.records
    assert record.kind == "model"


def test_save_load_round_trip_and_remove(tmp_path):
    catalog = Catalog(tmp_path)
    catalog.add(read_records(CATALOG / "catalog.json")[0])
    catalog.save()
    lines = catalog.path.read_text().splitlines()
    assert len(lines) == 52 and all(json.loads(line)["name"] for line in lines)
    loaded = Catalog.load(tmp_path)
    assert [r.model_dump() for r in loaded.records] == [r.model_dump() for r in catalog.records]
    removed, missing = loaded.remove(["sisr-swinir", "No-Such-Model"])
    assert removed == ["SISR-SwinIR"] and missing == ["No-Such-Model"] and len(loaded.records) == 51


def test_a_corrupt_catalog_line_is_named(tmp_path):
    (tmp_path / "catalog.jsonl").write_text('{"name": "ok"}\n{"kind": "model"}\n')
    with pytest.raises(CatalogError, match=r"catalog.jsonl:2: not a catalog record"):
        Catalog.load(tmp_path)


def test_the_shipped_corpus_holds_liif_with_its_supplied_links():
    shipped = Catalog.load(Path(__file__).parent.parent / "corpus")
    liif = next(r for r in shipped.records if r.name == "SISR-Any-LIIF-RDN")
    assert liif.record().links() == ["https://arxiv.org/pdf/2012.09161", "https://github.com/yinboc/liif"]
    assert len(shipped.records) >= 60
