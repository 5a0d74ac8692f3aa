"""The services every village starts with: six common letters and the complaint/aspiration box."""

from __future__ import annotations

from sqlalchemy import select

from app.domain.errors import N_
from app.domain.letters import COMMON_PLACEHOLDERS
from app.extensions import db
from app.i18n import coded
from app.models import Service, Village
from app.models.services import COMPLAINT, LETTER

COMPLAINT_CATEGORIES: tuple[str, ...] = (
    N_("Jalan dan jembatan"),
    N_("Air bersih dan saluran"),
    N_("Listrik dan penerangan"),
    N_("Kebersihan dan sampah"),
    N_("Bantuan sosial"),
    N_("Pelayanan kantor desa"),
    N_("Keamanan dan ketertiban"),
    N_("Usulan atau aspirasi"),
    N_("Lainnya"),
)

KTP = {"key": "ktp", "label": N_("Foto KTP"), "required": True}
KK = {"key": "kk", "label": N_("Foto Kartu Keluarga (KK)"), "required": True}

TEMPAT_LAHIR = {"name": "tempat_lahir", "label": N_("Tempat lahir"), "type": "text", "required": True}
PEKERJAAN = {"name": "pekerjaan", "label": N_("Pekerjaan"), "type": "text", "required": True}
ALAMAT = {
    "name": "alamat",
    "label": N_("Alamat lengkap (dusun, RT/RW)"),
    "type": "textarea",
    "required": True,
}

_OPENING = (
    "Yang bertanda tangan di bawah ini, Kepala Desa {{ desa }}, Kecamatan {{ kecamatan }}, "
    "{{ kabupaten }}, Provinsi {{ provinsi }}, menerangkan bahwa:\n\n"
    "Nama: {{ nama }}\n"
    "NIK: {{ nik }}\n"
    "Jenis kelamin: {{ jenis_kelamin }}\n"
)
_CLOSING = (
    "\n\nSurat keterangan ini dibuat untuk keperluan {{ keperluan }}. "
    "Demikian surat ini dibuat agar dapat dipergunakan sebagaimana mestinya."
)

DEFAULT_SERVICES: tuple[dict, ...] = (
    {
        "code": "domisili",
        "kind": LETTER,
        "name": N_("Surat Keterangan Domisili"),
        "description": N_(
            "Surat yang menerangkan bahwa Anda tinggal di desa ini. Biasa dipakai untuk melamar "
            "kerja, membuka rekening, atau mendaftar sekolah."
        ),
        "fields": [TEMPAT_LAHIR, PEKERJAAN, ALAMAT],
        "documents": [KTP, KK],
        "sla_days": 2,
        "classification_code": "470",
        "letter_template": _OPENING
        + (
            "Tempat, tanggal lahir: {{ tempat_lahir }}, {{ tanggal_lahir }}\n"
            "Pekerjaan: {{ pekerjaan }}\n"
            "Alamat: {{ alamat }}\n\n"
            "adalah benar penduduk yang berdomisili di Desa {{ desa }}."
        )
        + _CLOSING,
    },
    {
        "code": "sktm",
        "kind": LETTER,
        "name": N_("Surat Keterangan Tidak Mampu"),
        "description": N_(
            "Surat yang menerangkan bahwa keluarga Anda kurang mampu. Biasa dipakai untuk keringanan "
            "biaya sekolah, berobat, atau mendaftar bantuan."
        ),
        "fields": [
            TEMPAT_LAHIR,
            PEKERJAAN,
            ALAMAT,
            {
                "name": "penghasilan",
                "label": N_("Penghasilan keluarga per bulan (perkiraan)"),
                "type": "text",
                "required": True,
            },
            {
                "name": "tanggungan",
                "label": N_("Jumlah anggota keluarga yang ditanggung"),
                "type": "text",
                "required": True,
            },
        ],
        "documents": [KTP, KK],
        "sla_days": 2,
        "classification_code": "474",
        "letter_template": _OPENING
        + (
            "Tempat, tanggal lahir: {{ tempat_lahir }}, {{ tanggal_lahir }}\n"
            "Pekerjaan: {{ pekerjaan }}\n"
            "Alamat: {{ alamat }}\n\n"
            "adalah benar warga Desa {{ desa }} yang tergolong keluarga kurang mampu, dengan "
            "penghasilan keluarga sekitar {{ penghasilan }} per bulan dan menanggung "
            "{{ tanggungan }} orang."
        )
        + _CLOSING,
    },
    {
        "code": "usaha",
        "kind": LETTER,
        "name": N_("Surat Keterangan Usaha"),
        "description": N_(
            "Surat yang menerangkan bahwa Anda punya usaha di desa ini. Biasa dipakai untuk "
            "mengajukan pinjaman KUR atau izin usaha."
        ),
        "fields": [
            ALAMAT,
            {"name": "nama_usaha", "label": N_("Nama usaha"), "type": "text", "required": True},
            {
                "name": "jenis_usaha",
                "label": N_("Jenis usaha (mis. warung kelontong, bengkel)"),
                "type": "text",
                "required": True,
            },
            {"name": "alamat_usaha", "label": N_("Alamat usaha"), "type": "textarea", "required": True},
            {"name": "mulai_usaha", "label": N_("Usaha berjalan sejak"), "type": "date", "required": False},
        ],
        "documents": [
            KTP,
            {"key": "tempat_usaha", "label": N_("Foto tempat usaha"), "required": False},
        ],
        "sla_days": 3,
        "classification_code": "503",
        "letter_template": _OPENING
        + (
            "Alamat: {{ alamat }}\n\n"
            "adalah benar memiliki usaha {{ jenis_usaha }} dengan nama {{ nama_usaha }} yang "
            "beralamat di {{ alamat_usaha }}, Desa {{ desa }}."
        )
        + _CLOSING,
    },
    {
        "code": "pengantar-ktp-kk",
        "kind": LETTER,
        "name": N_("Surat Pengantar KTP/KK"),
        "description": N_(
            "Surat pengantar dari desa untuk membuat atau memperbarui KTP atau Kartu Keluarga di Disdukcapil."
        ),
        "fields": [
            ALAMAT,
            {
                "name": "jenis_pengantar",
                "label": N_("Pengantar untuk"),
                "type": "select",
                "required": True,
                "options": [
                    N_("KTP baru"),
                    N_("KTP hilang atau rusak"),
                    N_("KK baru"),
                    N_("Perubahan data KK"),
                ],
            },
        ],
        "documents": [KK, {"key": "ktp", "label": N_("Foto KTP lama (bila ada)"), "required": False}],
        "sla_days": 1,
        "classification_code": "470",
        "letter_template": _OPENING
        + (
            "Alamat: {{ alamat }}\n\n"
            "adalah benar warga Desa {{ desa }} dan kami antar untuk mengurus {{ jenis_pengantar }} "
            "di Dinas Kependudukan dan Pencatatan Sipil {{ kabupaten }}."
        )
        + _CLOSING,
    },
    {
        "code": "kelahiran",
        "kind": LETTER,
        "name": N_("Surat Keterangan Kelahiran"),
        "description": N_(
            "Surat yang menerangkan kelahiran bayi di desa ini, untuk mengurus akta kelahiran. "
            "Diajukan oleh orang tua atau keluarga."
        ),
        "fields": [
            {"name": "nama_bayi", "label": N_("Nama bayi"), "type": "text", "required": True},
            {
                "name": "jenis_kelamin_bayi",
                "label": N_("Jenis kelamin bayi"),
                "type": "select",
                "required": True,
                "options": [N_("Laki-laki"), N_("Perempuan")],
            },
            {
                "name": "tanggal_lahir_bayi",
                "label": N_("Tanggal lahir bayi"),
                "type": "date",
                "required": True,
            },
            {"name": "tempat_lahir_bayi", "label": N_("Tempat lahir bayi"), "type": "text", "required": True},
            {"name": "nama_ayah", "label": N_("Nama ayah"), "type": "text", "required": True},
            {"name": "nama_ibu", "label": N_("Nama ibu"), "type": "text", "required": True},
        ],
        "documents": [
            KK,
            {
                "key": "keterangan_lahir",
                "label": N_("Foto surat keterangan lahir dari bidan/rumah sakit"),
                "required": True,
            },
        ],
        "sla_days": 2,
        "classification_code": "474.1",
        "letter_template": (
            "Yang bertanda tangan di bawah ini, Kepala Desa {{ desa }}, Kecamatan {{ kecamatan }}, "
            "{{ kabupaten }}, menerangkan bahwa telah lahir seorang anak:\n\n"
            "Nama: {{ nama_bayi }}\n"
            "Jenis kelamin: {{ jenis_kelamin_bayi }}\n"
            "Tempat, tanggal lahir: {{ tempat_lahir_bayi }}, {{ tanggal_lahir_bayi }}\n"
            "Nama ayah: {{ nama_ayah }}\n"
            "Nama ibu: {{ nama_ibu }}\n\n"
            "Keterangan ini diajukan oleh {{ nama }} (NIK {{ nik }})."
        )
        + _CLOSING,
    },
    {
        "code": "kematian",
        "kind": LETTER,
        "name": N_("Surat Keterangan Kematian"),
        "description": N_(
            "Surat yang menerangkan meninggalnya warga desa, untuk mengurus akta kematian, warisan, "
            "atau pensiun. Diajukan oleh keluarga."
        ),
        "fields": [
            {"name": "nama_almarhum", "label": N_("Nama yang meninggal"), "type": "text", "required": True},
            {"name": "nik_almarhum", "label": N_("NIK yang meninggal"), "type": "text", "required": True},
            {"name": "tanggal_meninggal", "label": N_("Tanggal meninggal"), "type": "date", "required": True},
            {"name": "tempat_meninggal", "label": N_("Tempat meninggal"), "type": "text", "required": True},
            {
                "name": "sebab",
                "label": N_("Sebab meninggal (bila diketahui)"),
                "type": "text",
                "required": False,
            },
            {
                "name": "hubungan",
                "label": N_("Hubungan Anda dengan yang meninggal"),
                "type": "text",
                "required": True,
            },
        ],
        "documents": [
            {"key": "ktp_almarhum", "label": N_("Foto KTP yang meninggal"), "required": True},
            KK,
        ],
        "sla_days": 2,
        "classification_code": "474.3",
        "letter_template": (
            "Yang bertanda tangan di bawah ini, Kepala Desa {{ desa }}, Kecamatan {{ kecamatan }}, "
            "{{ kabupaten }}, menerangkan bahwa:\n\n"
            "Nama: {{ nama_almarhum }}\n"
            "NIK: {{ nik_almarhum }}\n\n"
            "telah meninggal dunia pada tanggal {{ tanggal_meninggal }} di {{ tempat_meninggal }} "
            "karena {{ sebab }}.\n\n"
            "Keterangan ini diajukan oleh {{ nama }} (NIK {{ nik }}), {{ hubungan }} dari yang meninggal."
        )
        + _CLOSING,
    },
    {
        "code": "pengaduan",
        "kind": COMPLAINT,
        "name": N_("Pengaduan dan aspirasi"),
        "description": N_(
            "Sampaikan keluhan, laporan, atau usulan untuk desa: jalan rusak, air, bantuan, atau "
            "pelayanan. Anda bisa meminta nama Anda tidak ditampilkan."
        ),
        "fields": [
            {
                "name": "kategori",
                "label": N_("Kategori"),
                "type": "select",
                "required": True,
                "options": list(COMPLAINT_CATEGORIES),
            },
            {
                "name": "lokasi",
                "label": N_("Lokasi (dusun, RT, atau patokan)"),
                "type": "text",
                "required": False,
            },
        ],
        "documents": [{"key": "bukti", "label": N_("Foto pendukung (bila ada)"), "required": False}],
        "sla_days": 5,
        "classification_code": "005",
        "letter_template": "",
    },
)


def _shipped_texts() -> dict[tuple[str, ...], str]:
    texts: dict[tuple[str, ...], str] = {}
    for spec in DEFAULT_SERVICES:
        code = spec["code"]
        texts[(code, "name")] = spec["name"]
        texts[(code, "description")] = spec["description"]
        for field in spec["fields"]:
            texts[(code, "field", field["name"])] = field["label"]
            for option in field.get("options", ()):
                texts[(code, "option", field["name"], option)] = option
        for doc in spec["documents"]:
            texts[(code, "document", doc["key"])] = doc["label"]
    return texts


# Each text of the built-in catalogue by its key: (service code, "name"), (code, "field", name), ...
SHIPPED: dict[tuple[str, ...], str] = _shipped_texts()


def shown(key: tuple[str, ...], stored: str) -> str:
    """``stored`` as people read it: translated by ``key`` while it is the built-in text, else as typed.

    Operators may rename a service or relabel a field; what they type is never a msgid (see app/i18n.py).
    """
    return coded(SHIPPED, key) if stored and SHIPPED.get(key) == stored else stored


def service_name(service) -> str:
    """The name of ``service`` (anything with ``code`` and ``name``) for the reader's language."""
    return shown((service.code, "name"), service.name)


def service_description(service: Service) -> str:
    return shown((service.code, "description"), service.description or "")


def field_label(service: Service, spec: dict) -> str:
    return shown((service.code, "field", spec.get("name", "")), spec.get("label") or spec.get("name", ""))


def option_label(service: Service, field_name: str, value: str) -> str:
    """One answer of a select field; the stored value itself stays in the request as chosen."""
    return shown((service.code, "option", field_name, value), value)


def document_label(service: Service, doc: dict) -> str:
    return shown((service.code, "document", doc.get("key", "")), doc.get("label") or doc.get("key", ""))


def placeholders_for(service: Service | dict) -> list[str]:
    """Every placeholder a service's letter may use: the common ones, then its own fields."""
    fields = service["fields"] if isinstance(service, dict) else service.fields
    return [*COMMON_PLACEHOLDERS, *(f["name"] for f in fields)]


def add_default_services(village: Village) -> list[Service]:
    """Give ``village`` each default service it does not have yet (matched by code); return the new ones."""
    have = set(db.session.scalars(select(Service.code).where(Service.village_id == village.id)))
    added = []
    for position, spec in enumerate(DEFAULT_SERVICES):
        if spec["code"] in have:
            continue
        service = Service(
            village_id=village.id,
            code=spec["code"],
            kind=spec["kind"],
            name=spec["name"],
            description=spec["description"],
            fields=[dict(f) for f in spec["fields"]],
            documents=[dict(d) for d in spec["documents"]],
            sla_days=spec["sla_days"],
            fee=0,
            classification_code=spec["classification_code"],
            letter_template=spec["letter_template"],
            position=position,
            active=True,
        )
        db.session.add(service)
        added.append(service)
    db.session.flush()
    return added
