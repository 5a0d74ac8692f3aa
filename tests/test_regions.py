"""The official region tree."""

from sqlalchemy import func, select

from app.extensions import db
from app.models import Region
from app.regions import import_regions, read_regions


def test_the_whole_country_is_imported(app):
    counts = dict(db.session.execute(select(Region.level, func.count()).group_by(Region.level)).all())
    assert counts == {1: 38, 2: 514, 3: 7285, 4: 83762}


def test_importing_again_changes_nothing(app):
    result = import_regions()
    assert result["inserted"] == 0 and result["renamed"] == 0


def test_a_renamed_village_is_updated_on_import(app):
    hanura = db.session.get(Region, "18.09.10.2004")
    hanura.name = "Nama Lama"
    db.session.commit()
    result = import_regions()
    assert result["renamed"] == 1
    assert db.session.get(Region, "18.09.10.2004").name == "Hanura"


def test_kelurahan_codes_start_with_one(app):
    rows = {row["code"]: row for row in read_regions() if row["level"] == 4}
    assert rows["18.09.10.2004"]["name"] == "Hanura"
    assert db.session.get(Region, "18.09.10.2004").is_kelurahan is False
    kelurahan = next(code for code in rows if code.rsplit(".", 1)[1].startswith("1"))
    assert db.session.get(Region, kelurahan).is_kelurahan is True


def test_the_import_command_reports_what_it_did(runner):
    result = runner.invoke(args=["regions", "import"])
    assert result.exit_code == 0
    assert "0 baru" in result.output


def test_a_renamed_kecamatan_renames_the_words_its_villages_are_found_by(app):
    from app.models import Village
    from app.tenancy import activate_village

    activate_village("18.09.10.2004", slug="hanura")
    kecamatan = db.session.get(Region, "18.09.10")
    kecamatan.name = "Nama Lama"
    db.session.commit()
    from app.tenancy import refresh_search_texts

    refresh_search_texts()
    db.session.commit()
    assert "nama lama" in db.session.scalar(select(Village.search_text))
    import_regions()
    assert db.session.scalar(select(Village.search_text)) == " hanura teluk pandan pesawaran "
