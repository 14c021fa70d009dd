"""Locust 0.x class names: defining a subclass raises Locust's migration ImportError."""


def _deprecated_meta(message):
    class MetaClass(type):
        def __new__(mcs, classname, bases, class_dict):
            if classname in ("DeprecatedLocustClass", "DeprecatedHttpLocustClass", "DeprecatedFastHttpLocustClass"):
                return super().__new__(mcs, classname, bases, class_dict)
            raise ImportError(message)

    return MetaClass


_CHANGELOG = "For more info see: https://docs.locust.io/en/latest/changelog.html#changelog-1-0"


class DeprecatedLocustClass(metaclass=_deprecated_meta(f"The Locust class has been renamed to User in version 1.0. {_CHANGELOG}")):
    pass


class DeprecatedHttpLocustClass(
    metaclass=_deprecated_meta(f"The HttpLocust class has been renamed to HttpUser in version 1.0. {_CHANGELOG}")
):
    pass


class DeprecatedFastHttpLocustClass(
    metaclass=_deprecated_meta(
        f"The FastHttpLocust class has been renamed to FastHttpUser in version 1.0. {_CHANGELOG}"
    )
):
    pass
