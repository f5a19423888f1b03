# Another function's code: no other function may read it.
SECRET = "victim-code-secret"


def handler(event, context):
    return SECRET
