// Validates an OpenAPI document (its schema, its $refs) and prints its
// paths with their methods, one "METHOD PATH" a line, for the test to
// compare with the gateway's routes.  Exit 1 with the reason when it
// does not validate.

'use strict';

const SwaggerParser = require('@apidevtools/swagger-parser');

SwaggerParser.validate(process.argv[2]).then((api) => {
    for (const [path, item] of Object.entries(api.paths)) {
        for (const method of Object.keys(item)) {
            if (['get', 'put', 'post', 'delete', 'head', 'options',
                 'patch'].includes(method)) {
                console.log(method.toUpperCase() + ' ' + path);
            }
        }
    }
}).catch((err) => {
    console.error(err.message);
    process.exit(1);
});
