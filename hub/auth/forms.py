"""Account forms (Flask-WTF: every form carries a CSRF token)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, StringField

# New in WTForms 3.3; the newest stubs on PyPI (types-WTForms 3.2) do not have it yet.
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]
from wtforms.validators import DataRequired, EqualTo, Length, ValidationError

from hub.auth.passwords import MIN_PASSWORD_LENGTH
from hub.auth.service import AccountError, clean_name, normalise_email, validate_email
from hub.models import Activity, Role
from hub.policy.filing import BIN_HELP, validate_bin

ACTIVITY_CHOICES = [
    SelectChoice("", "Choose the principal licensed activity"),
    SelectChoice(Activity.EXCHANGE.value, "Exchange (trading facility)"),
    SelectChoice(Activity.BROKER.value, "Broker"),
    SelectChoice(Activity.CUSTODY.value, "Custody"),
    SelectChoice(Activity.PAYMENTS.value, "Payments"),
    SelectChoice(Activity.MINING.value, "Mining"),
    SelectChoice(Activity.SOFTWARE.value, "Blockchain software"),
]


def _email_check(_form: FlaskForm, field: EmailField) -> None:
    field.data = normalise_email(field.data or "")
    if (error := validate_email(field.data)) is not None:
        raise ValidationError(error)


def _bin_check(_form: FlaskForm, field: StringField) -> None:
    field.data = (field.data or "").strip()
    # The one BIN rule lives in the domain core (format, resident digit, check digit).
    if (error := validate_bin(field.data)) is not None:
        raise ValidationError(f"This BIN {error}.")


def _name_check(_form: FlaskForm, field: StringField) -> None:
    # One rule for names a person types (NFC, visible, no control or bidi characters).
    try:
        field.data = clean_name(field.data or "", field=field.name)
    except AccountError as exc:
        raise ValidationError(exc.message) from None


def _password_field(label: str) -> PasswordField:
    return PasswordField(
        label,
        validators=[
            DataRequired(),
            Length(
                min=MIN_PASSWORD_LENGTH,
                max=200,
                message=f"Use at least {MIN_PASSWORD_LENGTH} characters.",
            ),
        ],
    )


class LoginForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])


class RegisterForm(FlaskForm):
    email = EmailField("Work e-mail", validators=[DataRequired(), _email_check])
    password = _password_field("Password")
    confirm = PasswordField(
        "Repeat the password",
        validators=[DataRequired(), EqualTo("password", message="The passwords differ.")],
    )
    bin = StringField(
        "BIN (business identification number)",
        validators=[DataRequired(), _bin_check],
        description=BIN_HELP,
    )
    legal_name = StringField(
        "Registered legal name",
        validators=[DataRequired(), _name_check],
    )
    activity = SelectField(
        "Principal licensed activity",
        choices=ACTIVITY_CHOICES,
        validators=[DataRequired(message="Choose an activity.")],
    )


class ConfirmForm(FlaskForm):
    """The button of a confirmation link's page (the CSRF token alone)."""


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired()])
    new_password = _password_field("New password")
    confirm = PasswordField(
        "Repeat the new password",
        validators=[DataRequired(), EqualTo("new_password", message="The passwords differ.")],
    )


class StaffUserForm(FlaskForm):
    """An administrator creates other administrators and policy authors."""

    email = EmailField("E-mail", validators=[DataRequired(), _email_check])
    role = SelectField(
        "Role",
        choices=[
            SelectChoice(Role.ADMIN.value, "Administrator"),
            SelectChoice(Role.AUTHOR.value, "Policy author"),
        ],
    )
    password = _password_field("Initial password")


class AccountStatusForm(FlaskForm):
    """An administrator deactivates (or reactivates) an account, named by its e-mail."""

    email = EmailField("E-mail of the account", validators=[DataRequired(), _email_check])
    action = SelectField(
        "Action",
        choices=[
            SelectChoice("deactivate", "Deactivate: sign out everywhere, revoke its API tokens"),
            SelectChoice("activate", "Reactivate"),
        ],
    )
