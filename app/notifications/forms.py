from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import URL, Length, Optional, ValidationError

from app.models.notifications import SMS_GATEWAYS, WHATSAPP_GATEWAYS
from app.notifications.channels.egress import UnsafeGatewayUrl, check_url

LABELS = {
    "none": _l("Tidak ada"),
    "simulator": _l("Simulator (uji coba, tidak mengirim)"),
    "fonnte": "Fonnte",
    "cloud": "WhatsApp Cloud API",
    "webhook": _l("Webhook JSON"),
}


def public_gateway(form, field) -> None:
    """Refuse a gateway URL that points inside the server's network (checked again at each send)."""
    try:
        check_url(field.data.strip())
    except UnsafeGatewayUrl as err:
        raise ValidationError(_(err.message, **err.params)) from None


class ChannelsForm(FlaskForm):
    whatsapp_gateway = SelectField(
        _l("Gateway WhatsApp"), choices=[SelectChoice(g, LABELS[g]) for g in WHATSAPP_GATEWAYS]
    )
    whatsapp_url = StringField(
        _l("Alamat gateway WhatsApp (kosongkan untuk bawaan)"),
        validators=[
            Optional(),
            URL(require_tld=False, message=_l("Alamat tidak valid.")),
            Length(max=300),
            public_gateway,
        ],
    )
    whatsapp_token = PasswordField(_l("Token WhatsApp (kosongkan agar tetap)"), validators=[Length(max=400)])
    whatsapp_sender = StringField(
        _l("ID nomor pengirim (Cloud API)"), validators=[Optional(), Length(max=40)]
    )
    whatsapp_templates = TextAreaField(
        _l("Template Cloud API, satu per baris: jenis=nama_template"), validators=[Length(max=2000)]
    )
    sms_gateway = SelectField(_l("Gateway SMS"), choices=[SelectChoice(g, LABELS[g]) for g in SMS_GATEWAYS])
    sms_url = StringField(
        _l("Alamat gateway SMS"),
        validators=[
            Optional(),
            URL(require_tld=False, message=_l("Alamat tidak valid.")),
            Length(max=300),
            public_gateway,
        ],
    )
    sms_token = PasswordField(_l("Token SMS (kosongkan agar tetap)"), validators=[Length(max=400)])
