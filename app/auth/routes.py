import math

from flask import current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required, login_user, logout_user

from app.auth import bp, guard
from app.auth.forms import LoginForm, PasswordForm
from app.extensions import db, limiter
from app.models import Role, User
from app.web import render, safe_next


def home_for(user: User) -> str:
    """Where each role starts its day."""
    if user.role in (Role.OPERATOR, Role.HEAD):
        return _endpoint_or_admin("officials.home")
    if user.role == Role.BUMDES_MANAGER:
        return _endpoint_or_admin("bumdes.manage")
    return url_for("admin.home")


def _endpoint_or_admin(endpoint: str) -> str:
    if endpoint in current_app.view_functions:
        return url_for(endpoint)
    return url_for("admin.home")


@bp.route("/masuk", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    form = LoginForm()
    wait = 0
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        principal = guard.login_principal(email)
        wait = guard.wait_seconds(principal)
        if not wait:
            user = guard.authenticate(email, form.password.data)
            if user is not None:
                guard.record_success(principal)
                login_user(user)
                response = redirect(safe_next(request.args.get("next")) or home_for(user))
                guard.remember_device(response, email)
                return response
            form.password.errors.append(_("Email atau kata sandi salah."))
            wait = guard.record_failure(principal)
        if wait:
            form.password.errors.append(_lockout_message(wait))
    return _form_page("auth/login.html", form, wait)


def _lockout_message(wait: int) -> str:
    minutes = max(1, math.ceil(wait / 60))
    return ngettext(
        "Terlalu banyak percobaan untuk akun ini. Coba lagi dalam %(num)s menit.",
        "Terlalu banyak percobaan untuk akun ini. Coba lagi dalam %(num)s menit.",
        minutes,
    )


def _form_page(template: str, form, wait: int):
    """The form again: 429 with Retry-After while the account waits, 422 on other errors."""
    status = 429 if wait else 422 if form.errors else 200
    response = render(template, form=form, status=status)
    if wait:
        response.headers["Retry-After"] = str(wait)
    return response


@bp.route("/keluar", methods=["POST"])
def logout():
    if current_user.is_authenticated:
        # A copy of this session's cookie (or of any other) must stop working now, not in 12 hours.
        current_user._get_current_object().end_sessions()
        db.session.commit()
    logout_user()
    flash(_("Anda sudah keluar dari akun ini di semua perangkat."))
    return redirect(url_for("public.home"))


@bp.route("/sandi", methods=["GET", "POST"])
@login_required
def change_password():
    form = PasswordForm()
    wait = 0
    if form.validate_on_submit():
        # Someone holding a stolen session must not get unlimited guesses at the password either.
        principal = guard.account_principal(current_user.email)
        wait = guard.wait_seconds(principal)
        if not wait and not current_user.check_password(form.current.data):
            form.current.errors.append(_("Kata sandi sekarang salah."))
            wait = guard.record_failure(principal)
        elif not wait:
            guard.record_success(principal)
            user = current_user._get_current_object()
            user.set_password(form.new.data)
            db.session.commit()
            # The new session token ended every session, this one too: sign this one back in.
            login_user(user)
            flash(_("Kata sandi diganti. Semua perangkat lain sudah dikeluarkan."))
            return redirect(home_for(current_user))
        if wait:
            form.current.errors.append(_lockout_message(wait))
    return _form_page("auth/password.html", form, wait)
