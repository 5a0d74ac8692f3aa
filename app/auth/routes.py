from flask import current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import func, select

from app.auth import bp
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
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        user = db.session.scalar(select(User).where(func.lower(User.email) == email))
        if user is not None and user.active and user.check_password(form.password.data):
            login_user(user)
            return redirect(safe_next(request.args.get("next")) or home_for(user))
        form.password.errors.append(_("Email atau kata sandi salah."))
    status = 422 if form.errors else 200
    return render("auth/login.html", form=form, status=status)


@bp.route("/keluar", methods=["POST"])
def logout():
    logout_user()
    flash(_("Anda sudah keluar."))
    return redirect(url_for("public.home"))


@bp.route("/sandi", methods=["GET", "POST"])
@login_required
def change_password():
    form = PasswordForm()
    if form.validate_on_submit():
        if not current_user.check_password(form.current.data):
            form.current.errors.append(_("Kata sandi sekarang salah."))
        else:
            user = current_user._get_current_object()
            user.set_password(form.new.data)
            db.session.commit()
            # The new session token ended every session, this one too: sign this one back in.
            login_user(user)
            flash(_("Kata sandi diganti. Semua perangkat lain sudah dikeluarkan."))
            return redirect(home_for(current_user))
    return render("auth/password.html", form=form, status=422 if form.errors else 200)
