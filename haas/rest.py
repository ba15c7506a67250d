"""Routing of REST calls and the translation of errors into JSON responses.

A call is a plain function registered with `rest_call`; it gets its path
parameters as arguments, runs after authentication, and returns None (an
empty 200), a JSON-serialisable value, or a (value, status) pair.
"""

import functools
import json

from flask import Blueprint, Response, jsonify
from werkzeug.exceptions import HTTPException

from haas import auth
from haas.errors import APIError
from haas.model import db

blueprint = Blueprint('haas', __name__)


def rest_call(method, path):
    """Register the decorated function as the handler of `method path`."""
    def register(f):
        @functools.wraps(f)
        def handler(**kwargs):
            auth.authenticate()
            result = f(**kwargs)
            db.session.commit()
            status = 200
            if isinstance(result, tuple):
                result, status = result
            if result is None:
                return '', status
            return Response(json.dumps(result, sort_keys=True), status,
                            mimetype='application/json')
        blueprint.add_url_rule(path, f.__name__, handler, methods=[method])
        return f
    return register


def _api_error(error):
    db.session.rollback()
    return jsonify(error.to_dict()), error.status_code


def _http_error(error):
    # Unknown paths and methods get the same JSON body as API errors.
    body = {'type': type(error).__name__, 'msg': error.description}
    return jsonify(body), error.code


def init_app(app):
    from haas import api  # noqa: F401  (registers the calls)
    app.register_blueprint(blueprint)
    app.register_error_handler(APIError, _api_error)
    app.register_error_handler(HTTPException, _http_error)
