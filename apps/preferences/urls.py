from django.urls import path
from django.views.generic import TemplateView

from .views import access, brand, email, history, page, unsubscribe

app_name = "preferences"

urlpatterns = [
    path("", TemplateView.as_view(template_name="home.html"), name="home"),
    path("start/", access.start, name="start"),
    path("brand.css", brand.brand_css, name="brand_css"),
    path("p/<str:token>/", access.link, name="link"),
    path("preferences/", page.page, name="page"),
    path("preferences/undo/", page.undo, name="undo"),
    path("preferences/leave/", unsubscribe.leave, name="leave"),
    path("preferences/history/", history.history, name="history"),
    path("preferences/history/<int:sequence>/receipt.json", history.receipt, name="receipt"),
    path("preferences/sign-out/", access.sign_out, name="sign_out"),
    path("language/", access.language, name="language"),
    path("confirm-email/<str:token>/", email.confirm_email, name="confirm_email"),
    path("unsubscribe/<str:scope>/<str:token>/", unsubscribe.one_click, name="unsubscribe"),
]
