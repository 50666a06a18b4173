"""Who is signed in, for the router (``gate``), the sign-in screen and the sidebar.

The signed session token lives in this browser session's state and in a cookie,
so a reload stays signed in. Streamlit reads cookies (``st.context.cookies``, as
sent when the page loaded) but has no call to set one, so a one-line script
(``st.html`` with JavaScript, not iframed) writes or clears it on the run after a
sign-in or sign-out. The token is checked against the database on every run:
a disabled person is signed out at their next page load.
"""

from __future__ import annotations

import json

import streamlit as st

from shared.core.errors import FieldError, SignInError, TrainyardError
from shared.core.i18n import _
from shared.records import User
from shared.services import auth, users
from streamlit_app.components import deps
from streamlit_app.components.alerts import show_error

COOKIE = "trainyard_session"
TOKEN_KEY = "_trainyard_token"
_COOKIE_OP = "_trainyard_cookie_op"  # ("set", token) | ("clear", None): written by the next run's page
_IGNORE_COOKIE = "_trainyard_ignore_cookie"  # after a sign-out the page-load cookie is stale
_OIDC_ERROR = "_trainyard_oidc_error"
_PW_CHANGED = "_trainyard_pw_changed"


def client() -> str | None:
    """The browser's address (None on localhost); a throttling key, not an identity."""
    try:
        ip = st.context.ip_address
    except Exception:  # noqa: BLE001 - no client context (bare runs): no per-client key
        return None
    return ip if isinstance(ip, str) else None  # AppTest's client is a mock


def oidc_providers() -> list[str | None]:
    """The ``st.login`` providers configured in .streamlit/secrets.toml ``[auth]``: None stands for the
    unnamed default; empty when OIDC is not set up."""
    try:
        section = st.secrets.get("auth")
    except Exception:  # noqa: BLE001 - no secrets.toml at all: OIDC is simply off
        return []
    if not section:
        return []
    if "client_id" in section:
        return [None]
    return [name for name, value in section.items() if hasattr(value, "get") and "client_id" in value]


def _sso_signed_in() -> bool:
    """Whether Streamlit's own OIDC session (st.login) holds a person."""
    return bool(oidc_providers()) and bool(st.user.to_dict().get("is_logged_in"))


def remember(token: str) -> None:
    st.session_state[TOKEN_KEY] = token
    st.session_state[_COOKIE_OP] = ("set", token)
    st.session_state.pop(_IGNORE_COOKIE, None)


def forget() -> None:
    st.session_state.pop(TOKEN_KEY, None)
    st.session_state[deps.USER_KEY] = None
    st.session_state[_COOKIE_OP] = ("clear", None)
    st.session_state[_IGNORE_COOKIE] = True


def _write_cookie() -> None:
    op = st.session_state.pop(_COOKIE_OP, None)
    if op is None:
        return
    kind, token = op
    max_age = int(deps.settings().session_hours * 3600) if kind == "set" else 0
    value = json.dumps(token or "")  # our own url-safe token, quoted for JavaScript all the same
    st.html(f"""<script>
document.cookie = "{COOKIE}=" + {value} + "; Path=/; Max-Age={max_age}; SameSite=Strict"
  + (location.protocol === "https:" ? "; Secure" : "");
</script>""", unsafe_allow_javascript=True, width="content")


def gate() -> User | None:
    """The signed-in person for this run (also at ``deps.current_user()``), or None."""
    _write_cookie()
    token = st.session_state.get(TOKEN_KEY)
    from_cookie = False
    if not token and not st.session_state.get(_IGNORE_COOKIE):
        token = st.context.cookies.get(COOKIE)
        from_cookie = bool(token)
    user = None
    with deps.session() as s:
        if token:
            user = auth.resolve_session(session=s, settings=deps.settings(), token=token)
            if user is None:
                forget()  # expired, tampered, disabled or ended by a password change
            elif from_cookie:
                st.session_state[TOKEN_KEY] = token
        if user is None and _sso_signed_in():
            try:
                user = auth.user_from_oidc(session=s, settings=deps.settings(), claims=st.user.to_dict(),
                                           client=client())
            except SignInError as exc:
                st.session_state[_OIDC_ERROR] = str(exc)
            else:
                remember(auth.issue_token(deps.settings(), user))
    st.session_state[deps.USER_KEY] = user
    return user


def _finish_sign_in(token: str) -> None:
    remember(token)
    st.query_params.pop("signup", None)
    st.rerun()


def _sign_up_form(token: str) -> None:
    st.subheader(_("Create your account"))
    with deps.session() as s:
        role = auth.signup_role(session=s, token=token)
    if role is None:
        st.error(_("This sign-up link is unknown, used or expired. Ask an admin for a new one (on a fresh install: "
                   "restart `python -m runner up`, which prints one)."))
        return
    st.caption(_("This one-time link makes a **{role}** account.", role=role.value))
    with st.form("signup_form"):
        name = st.text_input(_("Name"), key="signup_name", help=_("2 to 32 letters, digits, '.', '-' or '_'"))
        email = st.text_input(_("E-mail (optional)"), key="signup_email")
        pw = st.text_input(_("Password"), type="password", key="signup_password",
                           help=_("at least {n} characters", n=users.MIN_PASSWORD))
        again = st.text_input(_("Password again"), type="password", key="signup_again")
        go = st.form_submit_button(_("Create account"), type="primary")
    if go:
        if pw != again:
            st.error(_("The two passwords differ; type them again."))
            return
        try:
            with deps.session() as s:
                _user, session_token = auth.sign_up(session=s, settings=deps.settings(), token=token, name=name,
                                                    password=pw, email=email or None, client=client())
        except TrainyardError as exc:
            show_error(exc)
            return
        _finish_sign_in(session_token)


def sign_in_screen() -> None:
    """All a signed-out visitor sees: no page data, no uploads."""
    st.title(_("Sign in to Trainyard"))  # no emoji: a box without an emoji font
    if token := st.query_params.get("signup"):
        _sign_up_form(token)
        return
    if err := st.session_state.pop(_OIDC_ERROR, None):
        st.error(err)
        st.button(_("Sign out of single sign-on"), key="auth_oidc_logout", on_click=st.logout)
    for provider in oidc_providers():
        label = _("Sign in with single sign-on") + (f" ({provider})" if provider else "")
        if st.button(label, key=f"auth_sso_{provider or 'default'}", type="primary"):
            st.login(provider)
    with deps.session() as s:
        nobody = users.count_users(session=s) == 0
    if nobody and not oidc_providers():
        st.info(_("No accounts yet. `python -m runner up` prints a one-time sign-up link for the first admin "
                  "in its console; open it in this browser."))
    with st.form("sign_in_form"):
        name = st.text_input(_("Name"), key="sign_in_name", autocomplete="username")
        pw = st.text_input(_("Password"), type="password", key="sign_in_password", autocomplete="current-password")
        go = st.form_submit_button(_("Sign in"), type="primary")
    if go:
        try:
            with deps.session() as s:
                _user, token = auth.sign_in(session=s, settings=deps.settings(), name=name, password=pw,
                                            client=client())
        except SignInError as exc:
            st.error(exc.localized(), icon=":material/lock:")
            return
        _finish_sign_in(token)


def _change_password(user: User) -> None:
    with st.form("auth_password_form", clear_on_submit=True):
        old = st.text_input(_("Current password"), type="password", key="auth_pw_old")
        new = st.text_input(_("New password"), type="password", key="auth_pw_new")
        again = st.text_input(_("New password again"), type="password", key="auth_pw_again")
        go = st.form_submit_button(_("Change password"))
    if not go:
        return
    if new != again:
        st.error(_("The two new passwords differ; type them again."))
        return
    try:
        with deps.session() as s:
            changed = users.change_password(session=s, user_id=user.id, old_password=old, new_password=new,
                                            actor=user, client=client())
    except FieldError as exc:
        st.error(exc.localized())
        return
    # The change ended every session of this person, this one included: carry on with a new token
    # (rerun at once, so the cookie a reload reads is the new one).
    remember(auth.issue_token(deps.settings(), changed))
    st.session_state[_PW_CHANGED] = True
    st.rerun()


def sign_out(user: User) -> None:
    with deps.session() as s:
        auth.sign_out(session=s, user=user, client=client())
    forget()
    if _sso_signed_in():
        st.logout()  # also ends Streamlit's own identity cookie (it reruns the app)
    st.rerun()


def sidebar(user: User) -> None:
    with st.sidebar:
        st.markdown(_("Signed in as **{name}** · {role}", name=user.name, role=user.role.value))
        if st.session_state.pop(_PW_CHANGED, False):
            st.success(_("Password changed; your other sessions are signed out."))
        if user.password_hash is not None:
            with st.popover(_("Change password"), icon=":material/key:"):
                _change_password(user)
        if st.button(_("Sign out"), key="auth_sign_out", icon=":material/logout:"):
            sign_out(user)
