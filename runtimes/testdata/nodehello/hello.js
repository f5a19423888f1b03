'use strict';
exports.handler = async () => ({ hello: 'world' });
