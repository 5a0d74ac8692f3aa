from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, EqualTo, Length


class LoginForm(FlaskForm):
    # No format check here: a wrong address simply does not match an account.
    email = EmailField(_l("Email"), validators=[DataRequired(_l("Isi email Anda."))])
    password = PasswordField(_l("Kata sandi"), validators=[DataRequired(_l("Isi kata sandi Anda."))])


class PasswordForm(FlaskForm):
    current = PasswordField(
        _l("Kata sandi sekarang"), validators=[DataRequired(_l("Isi kata sandi sekarang."))]
    )
    new = PasswordField(
        _l("Kata sandi baru"),
        validators=[
            DataRequired(_l("Isi kata sandi baru.")),
            Length(min=10, message=_l("Paling sedikit 10 karakter.")),
        ],
    )
    confirm = PasswordField(
        _l("Ulangi kata sandi baru"),
        validators=[EqualTo("new", message=_l("Kedua kata sandi baru tidak sama."))],
    )
