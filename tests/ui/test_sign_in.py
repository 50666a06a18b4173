"""The sign-in gate through AppTest: a signed-out visitor gets the sign-in form and nothing else on
every page; signing in (wrong and right), signing up with a one-time link, signing out; a disabled
person's session ends at the next page load; roles decide what a page offers."""

from __future__ import annotations

import pytest

from shared.records import Role
from shared.services import auth, users
from streamlit_app.components.auth import TOKEN_KEY
from tests.support.ui import make_dataset, make_model, make_task, open_page, signed_in

VIEWS = ("home", "datasets", "models", "task_new", "tasks", "task", "predict", "users", "audit", "sign_in")
PW = "correct horse battery"


def click(at, label: str) -> None:
    next(b for b in at.button if b.label == label).click()
    at.run()
    assert not at.exception, at.exception


def fill_sign_in(at, name: str, password: str) -> None:
    at.text_input(key="sign_in_name").input(name)
    at.text_input(key="sign_in_password").input(password)
    click(at, "Sign in")


def cookie_scripts(at) -> list[str]:
    return [el.proto.body for el in at.get("html") if "trainyard_session=" in el.proto.body]


def assert_sign_in_screen_only(at) -> None:
    assert [t.value for t in at.title] == ["Sign in to Trainyard"]
    assert [t.label for t in at.text_input] == ["Name", "Password"]
    assert not at.dataframe and not at.get("file_uploader") and not at.selectbox
    assert not at.sidebar.markdown and not at.sidebar.button


def test_signed_out_sees_only_the_sign_in_form_on_every_view(ui_settings, db, tmp_path):
    ds = make_dataset(db, ui_settings, tmp_path)
    model = make_model(db, ui_settings, tmp_path)
    task, _ = make_task(db, ui_settings, model_id=model.id, dataset_id=ds.id, status="completed")
    for view in VIEWS:
        at = open_page(f"views/{view}.py", as_role=None, id=str(task.id))
        assert not at.exception, (view, at.exception)
        assert_sign_in_screen_only(at)
        text = " ".join(m.value for m in at.markdown)
        assert "shapes" not in text and "lr sweep" not in text, view


def test_sign_in_wrong_then_right_keeps_the_page_asked_for(ui_settings, db):
    users.create_user(session=db, name="alice", password=PW, role=Role.member)
    at = open_page("views/tasks.py", as_role=None)
    fill_sign_in(at, "alice", "not the password")
    assert [e.value for e in at.error] == [auth.WRONG]
    fill_sign_in(at, "mallory", PW)
    assert [e.value for e in at.error] == [auth.WRONG]  # the same words for a name that does not exist
    assert_sign_in_screen_only(at)
    fill_sign_in(at, "Alice", PW)
    assert [t.value for t in at.title] == ["Training tasks"]
    assert at.sidebar.markdown[0].value == "Signed in as **alice** · member"
    # The token went to the cookie a reload reads.
    (script,) = cookie_scripts(at)
    assert at.session_state[TOKEN_KEY] in script and "Max-Age=43200" in script and "SameSite=Strict" in script


def test_sign_out_and_the_cookie_is_cleared(ui_settings):
    at = open_page("views/home.py", as_role="member")
    assert at.title[0].value == ":material/train: Trainyard"
    click(at, "Sign out")
    assert_sign_in_screen_only(at)
    (script,) = cookie_scripts(at)
    assert "Max-Age=0" in script
    at.run()
    assert_sign_in_screen_only(at)


def test_a_disabled_persons_session_ends_at_the_next_page_load(ui_settings, db):
    at = open_page("views/tasks.py", as_role="member")
    assert [t.value for t in at.title] == ["Training tasks"]
    member = users.find_user(session=db, name="test-member")
    admin, _token = signed_in("admin")
    users.set_disabled(session=db, user_id=member.id, disabled=True, actor=admin)
    at.run()
    assert_sign_in_screen_only(at)


def test_signup_link_makes_the_first_admin_once(ui_settings, db):
    token = auth.create_signup_link(session=db, settings=ui_settings)
    at = open_page("views/sign_in.py", as_role=None, signup=token)
    assert "one-time link makes a **admin** account" in at.caption[0].value
    at.text_input(key="signup_name").input("root")
    at.text_input(key="signup_password").input(PW)
    at.text_input(key="signup_again").input(PW)
    click(at, "Create account")
    assert at.sidebar.markdown[0].value == "Signed in as **root** · admin"
    again = open_page("views/sign_in.py", as_role=None, signup=token)
    assert any("unknown, used or expired" in e.value for e in again.error)
    assert not again.text_input


def test_a_viewer_gets_no_create_forms(ui_settings, db, tmp_path):
    make_dataset(db, ui_settings, tmp_path)
    make_model(db, ui_settings, tmp_path)
    at = open_page("views/task_new.py", as_role="viewer")
    assert not at.exception, at.exception
    assert not at.text_input and not at.main.button
    assert any("needs the member or admin role; you are a viewer" in i.value for i in at.info)
    at = open_page("views/datasets.py", as_role="viewer")
    assert not at.get("file_uploader") and at.dataframe  # reads, no upload
    assert not any(b.key == "home_load_examples" for b in open_page("views/home.py", as_role="viewer").button)
    member = open_page("views/task_new.py", as_role="member")
    assert member.text_input(key="tf_name") and not member.info
    assert open_page("views/datasets.py", as_role="member").get("file_uploader")


def test_people_and_audit_pages_are_for_admins(ui_settings, db):
    for role in ("member", "viewer"):
        for view in ("users", "audit"):
            with pytest.raises(ValueError, match="not"):
                open_page(f"views/{view}.py", as_role=role)
    at = open_page("views/users.py")
    assert list(at.dataframe[0].value["name"]) == ["test-admin", "test-member", "test-viewer"]
    at.text_input(key="us_add_name").input("bob")
    at.text_input(key="us_add_password").input(PW)
    at.selectbox(key="us_add_role").set_value(Role.viewer)
    click(at, "Add person")
    assert any("Added bob as viewer" in s.value for s in at.success)
    assert users.find_user(session=db, name="bob").role == Role.viewer
    log = open_page("views/audit.py")
    assert not log.exception, log.exception
    frame = log.dataframe[0].value
    assert list(frame["action"]) == ["create_user"] and list(frame["person"]) == ["test-admin"]


def test_single_sign_on_person_is_made_with_the_rule_role(ui_settings, db, monkeypatch):
    from shared.core.settings import get_settings

    monkeypatch.setenv("TRAINYARD_OIDC_ADMIN_DOMAINS", "ops.example.com")
    monkeypatch.setenv("TRAINYARD_OIDC_DEFAULT_ROLE", "member")
    get_settings.cache_clear()
    at = open_page("views/home.py", as_role=None)
    assert not any("single sign-on" in b.label for b in at.button)  # no [auth]: no offer
    at.secrets["auth"] = {"client_id": "trainyard", "client_secret": "s", "redirect_uri": "http://x/oauth2callback",
                          "cookie_secret": "c", "server_metadata_url": "http://idp/.well-known/openid-configuration"}
    at.run()
    assert any(b.label == "Sign in with single sign-on" for b in at.button)
    at.user = {"is_logged_in": True, "email": "Ann@ops.example.com", "name": "Ann Lee"}
    at.run()
    assert not at.exception, at.exception
    assert at.sidebar.markdown[0].value == "Signed in as **ann-lee** · admin"
    ann = users.find_by_email(session=db, email="ann@ops.example.com")
    assert ann.role == Role.admin and ann.password_hash is None
    # Signing out also ends Streamlit's own OIDC session, or the next run would sign Ann straight back in.
    click(at, "Sign out")
    at.run()
    assert not at.exception, at.exception
    assert any(b.label == "Sign in with single sign-on" for b in at.button)
    assert not at.sidebar.markdown
