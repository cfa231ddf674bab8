"""Policy team accounts with an authenticator app, signed in through the real pages."""

from django.contrib.auth.models import Group, User
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from .keyboard import follow

PASSWORD = "a-long-test-password"


def staff_with_app(group: str, username: str, **fields) -> tuple[User, TOTPDevice]:
    user = User.objects.create_user(username, password=PASSWORD, is_staff=True, **fields)
    user.groups.add(Group.objects.get(name=group))
    return user, TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)


def code_for(device: TOTPDevice) -> str:
    """The code the authenticator app shows now."""
    device.refresh_from_db()
    code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=device.drift)
    return f"{code:0{device.digits}d}"


def sign_in(page, user: User, device: TOTPDevice, *, then: str = "/admin/") -> None:
    page.goto(then)
    page.locator("#id_username").fill(user.username)
    page.locator("#id_password").fill(PASSWORD)
    follow(page, "button:has-text('Continue')")
    page.locator("#id_code").fill(code_for(device))
    follow(page, "button:has-text('Sign in')")
    assert page.url.endswith(then), page.url
